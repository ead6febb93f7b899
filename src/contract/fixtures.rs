//! The fixtures of every target on disk: `fixtures/<target>/<case>.json`, loaded once and shared
//! by the runner and the recorded endpoint.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::model::error::{ConfigError, ConfigErrors, Location};
use crate::model::fixture::Fixture;

/// The largest fixture file read (bytes): a recorded body is at most 16 MiB, a stream's raw
/// pieces at most 32 MiB, written as JSON text.
pub const MAX_FIXTURE_FILE: u64 = 64 * 1024 * 1024;

/// The fixtures of every target, loaded once and shared by the runner and the recorded endpoint.
#[derive(Debug, Clone, Default)]
pub struct FixtureStore {
    pub dir: PathBuf,
    by_key: BTreeMap<(String, String), Arc<Fixture>>,
}

impl FixtureStore {
    /// Loads `dir/<target>/<case>.json` for every target directory present. A missing `dir` is an
    /// empty store.
    pub fn load(dir: &Path) -> Result<FixtureStore, ConfigErrors> {
        let mut store = FixtureStore {
            dir: dir.to_path_buf(),
            by_key: BTreeMap::new(),
        };
        let Ok(targets) = std::fs::read_dir(dir) else {
            return Ok(store);
        };
        let mut errors = Vec::new();
        // Real directories only: a symbolic link to one is not followed (it could make a loop).
        let mut target_dirs: Vec<PathBuf> = Vec::new();
        for e in targets.flatten() {
            match e.file_type() {
                Ok(t) if t.is_dir() => target_dirs.push(e.path()),
                Ok(t) if t.is_symlink() && e.path().is_dir() => errors.push(ConfigError::new(
                    Location::file(e.path()),
                    "a symbolic link to a directory: not followed (only links to regular files are)",
                )),
                _ => {}
            }
        }
        target_dirs.sort();
        for tdir in target_dirs {
            let target = tdir
                .file_name()
                .and_then(|s| s.to_str())
                .unwrap_or_default()
                .to_string();
            let Ok(files) = std::fs::read_dir(&tdir) else {
                continue;
            };
            let mut files: Vec<std::fs::DirEntry> = files.filter_map(Result::ok).collect();
            files.sort_by_cached_key(std::fs::DirEntry::file_name);
            for file in files.iter().map(std::fs::DirEntry::path) {
                if file.extension().and_then(|e| e.to_str()) != Some("json") {
                    continue;
                }
                let case = file
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .unwrap_or_default()
                    .to_string();
                match crate::util::fs::read_text(&file, MAX_FIXTURE_FILE) {
                    Ok(text) => match Fixture::parse(&file, &text) {
                        Ok(f) => {
                            store.by_key.insert((target.clone(), case), Arc::new(f));
                        }
                        Err(e) => errors.push(e),
                    },
                    Err(e) => errors.push(ConfigError::new(
                        Location::file(&file),
                        format!("cannot read fixture: {e}"),
                    )),
                }
            }
        }
        if errors.is_empty() {
            Ok(store)
        } else {
            Err(ConfigErrors(errors))
        }
    }

    pub fn get(&self, target: &str, case: &str) -> Option<Arc<Fixture>> {
        self.by_key
            .get(&(target.to_string(), case.to_string()))
            .cloned()
    }

    /// Whether any fixture exists for the target.
    pub fn has_target(&self, target: &str) -> bool {
        self.by_key.keys().any(|(t, _)| t == target)
    }

    pub fn path(&self, target: &str, case: &str) -> PathBuf {
        self.dir.join(target).join(format!("{case}.json"))
    }

    #[cfg(test)]
    pub fn insert(&mut self, target: &str, case: &str, fixture: Fixture) {
        self.by_key
            .insert((target.to_string(), case.to_string()), Arc::new(fixture));
    }

    pub fn keys(&self) -> impl Iterator<Item = (&str, &str)> {
        self.by_key.keys().map(|(t, c)| (t.as_str(), c.as_str()))
    }
}
