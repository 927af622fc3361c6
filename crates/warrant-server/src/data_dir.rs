//! The data directory's permissions. It holds the SQLite database (client-secret hashes,
//! administrators' password hashes, dashboard sessions, the audit log), the master key and the
//! TLS private key: no other local user may read any of it. The directory and the directories
//! in it are 0700, its files 0600. Warrant creates them so, and checks at every start: group or
//! other permissions found on anything in it are removed, with a warning naming the path.
//!
//! Elsewhere than on Unix, permissions are left to the platform.

use std::io;
use std::path::Path;

/// How deep the start-up check looks: the directory, its files and `tls/`'s files.
const MAX_DEPTH: usize = 2;

/// Creates `dir` (and missing parents) readable by its owner only, then checks what is in it.
pub fn create(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)?;
    secure(dir);
    Ok(())
}

/// Creates `path` if missing, readable and writable by its owner only (for a file that another
/// library would otherwise create with the process's umask, such as the SQLite database, whose
/// `-wal` and `-shm` files SQLite then creates with the same permissions).
pub fn create_private_file(path: &Path) -> io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path).map(drop)
}

/// Removes group and other permissions from `dir` and what it holds (two levels deep; symbolic
/// links are not followed), warning for each path it had to change. A path that cannot be
/// changed (not this user's, say) is warned about and left as it is: Warrant still starts.
pub fn secure(dir: &Path) {
    tighten(dir, 0);
}

#[cfg(unix)]
fn tighten(path: &Path, depth: usize) {
    use std::os::unix::fs::PermissionsExt;

    let Ok(metadata) = std::fs::symlink_metadata(path) else {
        return;
    };
    if metadata.file_type().is_symlink() {
        return;
    }
    let mode = metadata.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        let tight = mode & !0o077;
        match std::fs::set_permissions(path, std::fs::Permissions::from_mode(tight)) {
            Ok(()) => tracing::warn!(
                path = %path.display(),
                was = format_args!("{mode:04o}"),
                now = format_args!("{tight:04o}"),
                "the data directory was readable by other users; removed their permissions"
            ),
            Err(error) => tracing::warn!(
                path = %path.display(),
                mode = format_args!("{mode:04o}"),
                %error,
                "the data directory is readable by other users and its permissions cannot be \
                 changed: fix them (chmod go-rwx)"
            ),
        }
    }
    if metadata.is_dir() && depth < MAX_DEPTH {
        let Ok(entries) = std::fs::read_dir(path) else {
            return;
        };
        for entry in entries.flatten() {
            tighten(&entry.path(), depth + 1);
        }
    }
}

#[cfg(not(unix))]
fn tighten(_path: &Path, _depth: usize) {}

#[cfg(all(test, unix))]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn loose_permissions_are_tightened_and_links_left_alone() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("data");
        create(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        create_private_file(&dir.join("db")).unwrap();
        assert_eq!(mode(&dir.join("db")), 0o600);

        let outside = root.path().join("outside");
        std::fs::write(&outside, "not ours").unwrap();
        std::fs::set_permissions(&outside, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::os::unix::fs::symlink(&outside, dir.join("link")).unwrap();
        std::fs::create_dir(dir.join("tls")).unwrap();
        std::fs::write(dir.join("tls/server.key"), "key").unwrap();
        for (path, loose) in [
            ("", 0o755),
            ("db", 0o644),
            ("tls", 0o775),
            ("tls/server.key", 0o444),
        ] {
            std::fs::set_permissions(dir.join(path), std::fs::Permissions::from_mode(loose))
                .unwrap();
        }
        secure(&dir);
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("db")), 0o600);
        assert_eq!(mode(&dir.join("tls")), 0o700);
        assert_eq!(
            mode(&dir.join("tls/server.key")),
            0o400,
            "only removed, never added"
        );
        assert_eq!(mode(&outside), 0o644, "a link is not followed");
    }
}
