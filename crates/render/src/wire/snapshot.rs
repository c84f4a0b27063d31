//! The `snapshot` member of every document answered from a snapshot
//! (`--snapshot FILE`; docs/json.md, docs/snapshot.md).

use serde::{Deserialize, Serialize};

/// Where the answers came from: which snapshot, taken when and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// The snapshot file as given.
    pub file: String,
    /// When it was taken, RFC 3339 (UTC).
    pub taken_at: String,
    /// The same, ms since the epoch.
    pub taken_at_unix_ms: u64,
    /// The host it was taken on.
    pub hostname: String,
    /// Its kernel release.
    pub kernel_release: String,
    /// Its boot ID.
    pub boot_id: Option<String>,
    /// The procscope version that took it.
    pub procscope_version: String,
    /// Its format version.
    pub format: u32,
}
