//! Memory: RSS split, PSS/USS/swap from `smaps`, the largest mappings, and
//! every mapping for `procscope maps`.

use super::{Risky, Source};
use crate::bytes::Bytes;
use crate::process::ser_outcome;
use procscope_parse::maps::{Mapping, SmapsEntry, mappings, smaps};
use procscope_read::{Failure, Outcome};
use serde::Serialize;
use std::collections::HashMap;

/// Sizes from `status` (no memory lock needed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Counters {
    /// Resident set.
    pub rss: Option<u64>,
    /// Anonymous resident memory.
    pub rss_anon: Option<u64>,
    /// File-backed resident memory.
    pub rss_file: Option<u64>,
    /// Shared-memory (shmem/tmpfs) resident memory.
    pub rss_shmem: Option<u64>,
    /// Peak resident set (`VmHWM`).
    pub rss_peak: Option<u64>,
    /// Swapped out.
    pub swap: Option<u64>,
    /// Virtual size.
    pub vsz: Option<u64>,
    /// Peak virtual size.
    pub vsz_peak: Option<u64>,
    /// Data + heap.
    pub data: Option<u64>,
    /// Main thread's stack.
    pub stack: Option<u64>,
    /// Locked (`mlock`).
    pub locked: Option<u64>,
    /// Page tables.
    pub page_tables: Option<u64>,
}

/// Totals over every mapping, from `smaps`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub struct Totals {
    /// Resident set.
    pub rss: u64,
    /// Proportional set: shared pages divided among their sharers.
    pub pss: u64,
    /// Unique set: private pages (what killing it would free).
    pub uss: u64,
    /// Resident pages shared with other processes.
    pub shared: u64,
    /// Anonymous pages.
    pub anonymous: u64,
    /// Swapped out.
    pub swap: u64,
    /// Proportional swap.
    pub swap_pss: u64,
}

/// One mapping, or (in the dossier's largest list) every mapping of one
/// path or kind added up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MapRow {
    /// Start address (0 for aggregated rows).
    pub start: u64,
    /// Size.
    pub size: u64,
    /// `rwxp`.
    pub perms: Bytes,
    /// Offset into the file.
    pub offset: u64,
    /// Path, or `[heap]`, `[stack]`, `[anon]`, `[vdso]`, …
    pub mapping: Bytes,
    /// Resident (smaps only).
    pub rss: Option<u64>,
    /// Proportional (smaps only).
    pub pss: Option<u64>,
    /// Dirty (smaps only).
    pub dirty: Option<u64>,
    /// Swapped (smaps only).
    pub swap: Option<u64>,
    /// Number of mappings added up in this row.
    pub count: usize,
}

/// The memory section.
#[derive(Debug, Clone, Serialize)]
pub struct Memory {
    /// From `status`.
    #[serde(serialize_with = "ser_outcome")]
    pub counters: Outcome<Counters>,
    /// From `smaps` (takes the memory lock: may time out).
    #[serde(serialize_with = "ser_outcome")]
    pub totals: Outcome<Totals>,
    /// The largest by RSS, per path or kind.
    #[serde(serialize_with = "ser_outcome")]
    pub largest: Outcome<Vec<MapRow>>,
}

/// How many mappings the dossier lists.
pub const LARGEST: usize = 8;

pub(crate) fn read(src: &Source<'_>, risky: &Risky) -> Memory {
    let counters = src.status().map(|s| Counters {
        rss: s.vm_rss,
        rss_anon: s.rss_anon,
        rss_file: s.rss_file,
        rss_shmem: s.rss_shmem,
        rss_peak: s.vm_hwm,
        swap: s.vm_swap,
        vsz: s.vm_size,
        vsz_peak: s.vm_peak,
        data: s.vm_data,
        stack: s.vm_stk,
        locked: s.vm_lck,
        page_tables: s.vm_pte,
    });
    let kernel_thread = src.stat.as_ref().is_ok_and(|s| s.kernel_thread);
    // Kernel threads have no user memory: status has no Vm lines, smaps is
    // empty. Say so instead of printing zeros or unknowns.
    let counters = match counters {
        Ok(_) if kernel_thread => Err(Failure::Absent {
            what: "user memory (kernel thread)".into(),
        }),
        c => c,
    };
    let raw = match &risky.smaps {
        Some(Ok(_)) if kernel_thread => Err(Failure::Absent {
            what: "memory map (kernel thread)".into(),
        }),
        Some(Err(Failure::Gone)) if kernel_thread => Err(Failure::Absent {
            what: "memory map (kernel thread)".into(),
        }),
        Some(r) => r.clone(),
        None => Err(Failure::Unsupported {
            what: "smaps not read".into(),
        }),
    };
    let entries = raw.as_deref().map(smaps).map_err(Clone::clone);
    Memory {
        counters,
        totals: entries.as_ref().map(|e| totals(e)).map_err(Clone::clone),
        largest: entries.map(|e| largest(&e, LARGEST)),
    }
}

/// Adds up every mapping.
pub fn totals(entries: &[SmapsEntry<'_>]) -> Totals {
    let mut t = Totals::default();
    for e in entries {
        let add = |a: &mut u64, k: &[u8]| *a = a.saturating_add(e.get(k));
        add(&mut t.rss, b"Rss");
        add(&mut t.pss, b"Pss");
        add(&mut t.uss, b"Private_Clean");
        add(&mut t.uss, b"Private_Dirty");
        add(&mut t.shared, b"Shared_Clean");
        add(&mut t.shared, b"Shared_Dirty");
        add(&mut t.anonymous, b"Anonymous");
        add(&mut t.swap, b"Swap");
        add(&mut t.swap_pss, b"SwapPss");
    }
    t
}

fn kind(m: &Mapping<'_>) -> Vec<u8> {
    m.path.map_or_else(|| b"[anon]".to_vec(), <[u8]>::to_vec)
}

/// Mappings added up per path or kind, largest RSS first (then size).
pub fn largest(entries: &[SmapsEntry<'_>], n: usize) -> Vec<MapRow> {
    let mut by: HashMap<Vec<u8>, MapRow> = HashMap::new();
    for e in entries {
        let key = kind(&e.mapping);
        let row = by.entry(key.clone()).or_insert_with(|| MapRow {
            start: 0,
            size: 0,
            perms: Bytes::default(),
            offset: 0,
            mapping: Bytes(key),
            rss: Some(0),
            pss: Some(0),
            dirty: Some(0),
            swap: Some(0),
            count: 0,
        });
        row.size = row.size.saturating_add(e.mapping.size());
        let add = |a: &mut Option<u64>, v: u64| *a = Some(a.unwrap_or(0).saturating_add(v));
        add(&mut row.rss, e.get(b"Rss"));
        add(&mut row.pss, e.get(b"Pss"));
        add(
            &mut row.dirty,
            e.get(b"Private_Dirty")
                .saturating_add(e.get(b"Shared_Dirty")),
        );
        add(&mut row.swap, e.get(b"Swap"));
        row.count += 1;
    }
    let mut rows: Vec<MapRow> = by.into_values().collect();
    rows.sort_by(|a, b| {
        b.rss
            .cmp(&a.rss)
            .then(b.size.cmp(&a.size))
            .then_with(|| a.mapping.cmp(&b.mapping))
    });
    rows.truncate(n);
    rows
}

fn row(m: &Mapping<'_>) -> MapRow {
    MapRow {
        start: m.start,
        size: m.size(),
        perms: Bytes::from(m.perms),
        offset: m.offset,
        mapping: Bytes(kind(m)),
        rss: None,
        pss: None,
        dirty: None,
        swap: None,
        count: 1,
    }
}

/// Every mapping in address order: from `smaps` with sizes when `detail`,
/// else from `maps`.
pub(crate) fn map_rows(risky: &Risky, detail: bool) -> Outcome<Vec<MapRow>> {
    let missing = || Failure::Unsupported {
        what: "maps not read".into(),
    };
    if detail {
        let raw = risky.smaps.clone().unwrap_or_else(|| Err(missing()))?;
        Ok(smaps(&raw)
            .iter()
            .map(|e| MapRow {
                rss: Some(e.get(b"Rss")),
                pss: Some(e.get(b"Pss")),
                dirty: Some(
                    e.get(b"Private_Dirty")
                        .saturating_add(e.get(b"Shared_Dirty")),
                ),
                swap: Some(e.get(b"Swap")),
                ..row(&e.mapping)
            })
            .collect())
    } else {
        let raw = risky.maps.clone().unwrap_or_else(|| Err(missing()))?;
        Ok(mappings(&raw).iter().map(row).collect())
    }
}
