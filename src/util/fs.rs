//! File-system helpers: directory entries, work spread over the cores, atomic writes.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

/// Why a file a loader wanted was not read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// A directory, FIFO, device or socket where a file was due (`kind` says which).
    #[error("not a regular file ({kind}): only regular files, or symbolic links to them, are read")]
    NotRegular { kind: &'static str },
    /// A symbolic link that leads nowhere, or in a loop.
    #[error("a symbolic link that leads nowhere or in a loop: {0}")]
    BrokenLink(std::io::Error),
    #[error("{size} bytes, over the limit of {limit} bytes for this file")]
    TooLarge { size: u64, limit: u64 },
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// What kind of file system object `t` is, in words.
pub fn kind(t: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if t.is_dir() {
        "a directory"
    } else if t.is_symlink() {
        "a symbolic link"
    } else if t.is_file() {
        "a regular file"
    } else {
        "something other than a file"
    }
}

/// Reads a regular file (or a symbolic link to one) of at most `limit` bytes as UTF-8 text; see
/// [`read_bytes`].
pub fn read_text(path: &Path, limit: u64) -> Result<String, ReadError> {
    String::from_utf8(read_bytes(path, limit)?).map_err(|_| {
        ReadError::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "stream did not contain valid UTF-8",
        ))
    })
}

/// Reads a regular file (or a symbolic link to one) of at most `limit` bytes. A directory, FIFO,
/// device or socket is refused before it is opened (a FIFO would block, a device never end), and
/// no more than `limit` bytes are ever read.
pub fn read_bytes(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    use std::io::Read;
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => {
            let link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
            return Err(if link {
                ReadError::BrokenLink(e)
            } else {
                ReadError::Io(e)
            });
        }
    };
    if !meta.is_file() {
        return Err(ReadError::NotRegular {
            kind: kind(&meta.file_type()),
        });
    }
    if meta.len() > limit {
        return Err(ReadError::TooLarge {
            size: meta.len(),
            limit,
        });
    }
    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge {
            size: bytes.len() as u64,
            limit,
        });
    }
    Ok(bytes)
}

/// The files below a directory that `keep` wants, in name order, and what was not followed.
#[derive(Debug, Default)]
pub struct Walk {
    pub files: Vec<std::path::PathBuf>,
    /// Symbolic links to directories (never followed: a link can make a loop), with why.
    pub not_followed: Vec<(std::path::PathBuf, String)>,
}

/// Walks `dir` without following symbolic links to directories (each is listed in
/// [`Walk::not_followed`]): real subdirectories are descended, every other entry whose path
/// `keep` wants is listed as a file (a link to a regular file, a FIFO or a device too: reading
/// it with [`read_text`] says what it is).
pub fn walk(dir: &Path, keep: &dyn Fn(&Path) -> bool) -> std::io::Result<Walk> {
    let mut out = Walk::default();
    walk_into(dir, keep, &mut out)?;
    Ok(out)
}

fn walk_into(dir: &Path, keep: &dyn Fn(&Path) -> bool, out: &mut Walk) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    // Siblings: their names' order is their paths' order, without comparing paths component by
    // component (which cost more than reading the files on a suite of a thousand cases).
    entries.sort_by_cached_key(std::fs::DirEntry::file_name);
    for entry in entries {
        let path = entry.path();
        let t = entry.file_type()?;
        if t.is_dir() {
            walk_into(&path, keep, out)?;
        } else if t.is_symlink() && path.is_dir() {
            out.not_followed.push((
                path,
                "a symbolic link to a directory: not followed (only links to regular files are)"
                    .into(),
            ));
        } else if keep(&path) {
            out.files.push(path);
        }
    }
    Ok(())
}

/// `f` over `items` on up to as many threads as there are cores (a few hundred items a thread at
/// least), results in the items' order. Loading a large suite is CPU bound (YAML, JSON).
pub fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    const PER_THREAD: usize = 128;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = cores.min(items.len() / PER_THREAD).max(1);
    if threads == 1 {
        return items.iter().map(f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let f = &f;
        let handles: Vec<_> = items
            .chunks(chunk)
            .skip(1)
            .map(|part| scope.spawn(move || part.iter().map(f).collect::<Vec<R>>()))
            .collect();
        let mut out: Vec<R> = items[..chunk.min(items.len())].iter().map(f).collect();
        for h in handles {
            out.extend(
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            );
        }
        out
    })
}

/// How [`write_atomic`] treats a file.
#[derive(Debug, Clone, Copy, Default)]
pub struct Atomic {
    /// The file's permission bits (Unix), set before any byte is written.
    pub mode: Option<u32>,
    /// Flush the file and its directory to disk (fixtures); reports are not synced, the rename
    /// alone keeps a reader from seeing half of one.
    pub sync: bool,
    /// A pause between the written temporary file and its rename, so a test can kill the writer
    /// at that moment.
    pub pause: Duration,
}

/// A temporary name for `path`, in its directory: `.<name>.<what>-<pid>`.
pub fn beside(path: &Path, what: &str) -> std::path::PathBuf {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    dir.join(format!(".{name}.{what}-{}", std::process::id()))
}

/// Writes what `fill` writes to `path` atomically: a buffered temporary file in the same
/// directory, renamed over `path` once whole; the temporary file is removed on failure.
pub fn write_atomic(
    path: &Path,
    how: Atomic,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = beside(path, "tmp");
    let result = (|| {
        let file = std::fs::File::create(&tmp)?;
        if let Some(mode) = how.mode {
            set_mode(&tmp, mode)?;
        }
        let mut out = std::io::BufWriter::with_capacity(256 * 1024, file);
        fill(&mut out)?;
        let file = out
            .into_inner()
            .map_err(std::io::IntoInnerError::into_error)?;
        if how.sync {
            file.sync_all()?;
        }
        if !how.pause.is_zero() {
            std::thread::sleep(how.pause);
        }
        std::fs::rename(&tmp, path)?;
        if how.sync {
            if let Ok(d) = std::fs::File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Puts the directory `staged` at `dest` in place of what is there: renamed into place when
/// nothing is, else the old directory renamed aside (a temporary name, removed after), then
/// `staged` renamed in. A reader sees the old directory, then (for the instant between the two
/// renames) none, then the new one: never a mix. On failure the old one is put back.
pub fn replace_dir(staged: &Path, dest: &Path) -> std::io::Result<()> {
    match std::fs::symlink_metadata(dest) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::rename(staged, dest),
        Err(e) => Err(e),
        Ok(_) => {
            let old = beside(dest, "old");
            let _ = std::fs::remove_dir_all(&old);
            std::fs::rename(dest, &old)?;
            if let Err(e) = std::fs::rename(staged, dest) {
                let _ = std::fs::rename(&old, dest);
                return Err(e);
            }
            let meta = std::fs::symlink_metadata(&old);
            let _ = match meta {
                Ok(m) if m.is_dir() => std::fs::remove_dir_all(&old),
                _ => std::fs::remove_file(&old),
            };
            Ok(())
        }
    }
}

/// Removes the temporaries [`beside`] named for `<dir>/<name>` (`.<name>.<what>-<pid>`) that a
/// process no longer running left behind (killed, say). Where it cannot tell whether that
/// process runs (no `/proc`), a temporary counts as stale after an hour.
pub fn remove_stale(dir: &Path, name: &str) {
    let prefix = format!(".{name}.");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let proc_fs = Path::new("/proc/self").exists();
    for e in entries.flatten() {
        let file_name = e.file_name();
        let Some(rest) = file_name.to_str().and_then(|n| n.strip_prefix(&prefix)) else {
            continue;
        };
        let Some(pid) = rest
            .rsplit_once('-')
            .and_then(|(_, pid)| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == std::process::id() {
            continue;
        }
        let stale = if proc_fs {
            !Path::new("/proc").join(pid.to_string()).exists()
        } else {
            e.metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > Duration::from_secs(3600))
        };
        if stale {
            let path = e.path();
            let _ = match e.file_type() {
                Ok(t) if t.is_dir() => std::fs::remove_dir_all(&path),
                _ => std::fs::remove_file(&path),
            };
        }
    }
}

/// Sets a file's permission bits (Unix; nothing elsewhere).
#[cfg(unix)]
pub fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
pub fn set_mode(_path: &Path, _mode: u32) -> std::io::Result<()> {
    Ok(())
}
