//! The code a process has mapped: its executable file mappings, each ELF
//! file's unwind sections (`.eh_frame`, `.eh_frame_hdr`, `.debug_frame`,
//! `.text`) loaded once per run and shared by every process that maps it,
//! and a framehop unwinder over them.

use crate::bytes::Bytes;
use framehop::x86_64::UnwinderX86_64;
use framehop::{ExplicitModuleSectionInfo, Module, Unwinder};
use object::{Object, ObjectSection, ObjectSegment};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Section data shared between modules (framehop needs `Deref<[u8]>`).
pub type Data = Arc<[u8]>;

/// At most this many bytes of one section are loaded (a `.text` larger
/// than that is left out: framehop only needs it near prologues).
const MAX_SECTION: u64 = 64 << 20;

/// The page size mappings are aligned to (x86-64).
const PAGE: u64 = 4096;

/// One mapping of `maps`, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    /// Start address.
    pub start: u64,
    /// End address (exclusive).
    pub end: u64,
    /// `rwxp`.
    pub perms: [u8; 4],
    /// Offset into the file.
    pub offset: u64,
    /// Device, as `makedev(major, minor)`.
    pub dev: u64,
    /// Inode (0: anonymous).
    pub inode: u64,
    /// Path or pseudo-name (`[stack]`, `[vdso]`).
    pub path: Option<Bytes>,
}

impl Mapping {
    /// Executable.
    pub fn exec(&self) -> bool {
        self.perms.get(2) == Some(&b'x')
    }

    /// Whether `addr` is inside.
    pub fn contains(&self, addr: u64) -> bool {
        self.start <= addr && addr < self.end
    }

    /// A file mapping (not anonymous, not a pseudo-name).
    pub fn is_file(&self) -> bool {
        self.inode != 0
            && self
                .path
                .as_ref()
                .is_some_and(|p| p.as_slice().starts_with(b"/"))
    }
}

/// Parses `maps`.
pub fn parse_maps(b: &[u8]) -> Vec<Mapping> {
    procscope_parse::maps::mappings(b)
        .into_iter()
        .map(|m| {
            let mut perms = [b'-'; 4];
            for (d, s) in perms.iter_mut().zip(m.perms) {
                *d = *s;
            }
            Mapping {
                start: m.start,
                end: m.end,
                perms,
                offset: m.offset,
                dev: rustix::fs::makedev(
                    u32::try_from(m.major).unwrap_or(0),
                    u32::try_from(m.minor).unwrap_or(0),
                ),
                inode: m.inode,
                path: m.path.map(Bytes::from),
            }
        })
        .collect()
}

/// A `PT_LOAD`: `p_offset`, `p_vaddr`, `p_filesz`, and whether it is
/// executable.
type Load = (u64, u64, u64, bool);

/// One ELF file's unwind sections and load segments.
#[derive(Debug)]
pub struct Elf {
    sections: ExplicitModuleSectionInfo<Data>,
    /// Each `PT_LOAD`.
    loads: Vec<Load>,
    /// It has `.eh_frame` or `.debug_frame`.
    unwind: bool,
    /// Its `.gnu_debuglink`: the debug file's name and CRC, when it has
    /// no DWARF of its own.
    debuglink: Option<(Vec<u8>, u32)>,
}

impl Elf {
    /// The bias (actual address − stated address) of a mapping of this
    /// file at `start` from file offset `offset`.
    ///
    /// The mapping's offset is the segment's `p_offset` rounded down to a
    /// page: lld starts its code segment mid-page (`p_offset` 0x15790 mapped
    /// from offset 0x15000), so the segment is matched from its page-aligned
    /// start, else the first segment would be taken and the bias be off by
    /// a page (the walk then stops after one frame).
    ///
    /// The executable segment the dynamic loader mapped from exactly this
    /// offset is taken first (only executable mappings are asked about):
    /// lld's segments share pages (the read-only one ends in the page where
    /// the code one starts), so containment alone picks the wrong one.
    fn bias(&self, start: u64, offset: u64) -> Option<u64> {
        let at = |l: &&Load| l.0 & !(PAGE - 1) == offset;
        let (p_off, p_vaddr, ..) = self
            .loads
            .iter()
            .find(|l| at(l) && l.3)
            .or_else(|| self.loads.iter().find(at))
            .or_else(|| {
                self.loads
                    .iter()
                    .find(|(o, _, sz, _)| *o <= offset && offset < o.saturating_add(*sz))
            })
            .or_else(|| self.loads.first())?;
        Some(
            start
                .wrapping_sub(offset)
                .wrapping_add(*p_off)
                .wrapping_sub(*p_vaddr),
        )
    }
}

/// Loads the unwind sections of an ELF file from procscope's sealed copy
/// of it (never from the target's file: see [`procscope_read::modcopy`]).
fn load(f: &std::fs::File) -> Result<Elf, String> {
    let cache = object::ReadCache::new(f);
    let obj = object::File::parse(&cache).map_err(|e| e.to_string())?;
    let section = |name: &str| -> (Option<std::ops::Range<u64>>, Option<Data>) {
        match obj.section_by_name(name) {
            Some(s) => {
                let r = s.address()..s.address().saturating_add(s.size());
                let d = (s.size() <= MAX_SECTION)
                    .then(|| s.data().ok())
                    .flatten()
                    .filter(|d| !d.is_empty())
                    .map(Data::from);
                (Some(r), d)
            }
            None => (None, None),
        }
    };
    let (text_svma, text) = section(".text");
    let (eh_frame_svma, eh_frame) = section(".eh_frame");
    let (eh_frame_hdr_svma, eh_frame_hdr) = section(".eh_frame_hdr");
    let (_, debug_frame) = section(".debug_frame");
    let (got_svma, _) = section(".got");
    let loads = obj
        .segments()
        .map(|s| {
            let (off, sz) = s.file_range();
            let exec = matches!(
                s.flags(),
                object::SegmentFlags::Elf { p_flags, .. }
                    if p_flags & object::elf::PF_X != object::elf::ProgramFlags(0)
            );
            (off, s.address(), sz, exec)
        })
        .collect();
    let unwind = eh_frame.is_some() || debug_frame.is_some();
    let debuglink = if obj.section_by_name(".debug_info").is_some() {
        None
    } else {
        obj.gnu_debuglink()
            .ok()
            .flatten()
            .filter(|(name, _)| !name.is_empty() && !name.contains(&b'/'))
            .map(|(name, crc)| (name.to_vec(), crc))
    };
    Ok(Elf {
        sections: ExplicitModuleSectionInfo {
            base_svma: 0,
            text_svma,
            text,
            got_svma,
            eh_frame_svma,
            eh_frame,
            eh_frame_hdr_svma,
            eh_frame_hdr,
            debug_frame,
            ..Default::default()
        },
        loads,
        unwind,
        debuglink,
    })
}

/// What one run remembers about files: each ELF's sealed copy and unwind
/// sections, by device and inode (a file mapped by many processes is
/// copied and read once; the unwinder and the symbolizer read the same
/// copy).
#[derive(Debug, Default)]
pub struct Cache {
    elves: Mutex<Elves>,
}

/// A module's copy and what was loaded from it.
#[derive(Debug)]
pub struct Loaded {
    /// The unwind sections.
    elf: Elf,
    /// procscope's sealed copy of the file.
    copy: Arc<std::fs::File>,
    /// A sealed copy of the debug file its `.gnu_debuglink` names, found
    /// beside it, in `.debug/` there, or under `/usr/lib/debug`, with the
    /// right CRC.
    debug: Option<Arc<std::fs::File>>,
}

/// Loaded ELF files (or why not) by device and inode.
type Elves = HashMap<(u64, u64), Arc<Result<Loaded, String>>>;

impl Cache {
    fn get(&self, key: (u64, u64)) -> Option<Arc<Result<Loaded, String>>> {
        self.lock().get(&key).cloned()
    }

    fn insert(&self, key: (u64, u64), v: Result<Loaded, String>) -> Arc<Result<Loaded, String>> {
        let v = Arc::new(v);
        self.lock().insert(key, v.clone());
        v
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Elves> {
        self.elves.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One module (an ELF file) of a process.
#[derive(Debug, Clone)]
pub struct ModuleInfo {
    /// Its path as `maps` shows it.
    pub name: Bytes,
    /// Its device and inode as `maps` shows them: the file's identity
    /// across processes.
    pub key: (u64, u64),
    /// procscope's sealed copy of it, when it could be made.
    pub copy: Option<Arc<std::fs::File>>,
    /// procscope's copy of its separate debug file, when one was found.
    pub debug: Option<Arc<std::fs::File>>,
    /// Its `PT_LOAD` segments (file offset, address, size, executable):
    /// to place a file offset in the debug file, which has the same
    /// addresses but not the same layout.
    pub loads: Vec<Load>,
    /// Why it could not be read ("timed out opening /usr/lib/…").
    pub error: Option<String>,
    /// It has unwind information (`.eh_frame` or `.debug_frame`).
    pub unwind: bool,
}

/// A process's code: mappings, modules and the unwinder.
pub struct Code {
    /// Every mapping.
    pub maps: Vec<Mapping>,
    /// Modules, by index.
    pub modules: Vec<ModuleInfo>,
    /// Executable mappings with their module's index.
    exec: Vec<(Mapping, usize)>,
    /// The unwinder.
    pub unwinder: UnwinderX86_64<Data>,
}

impl std::fmt::Debug for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Code")
            .field("modules", &self.modules)
            .finish_non_exhaustive()
    }
}

impl Code {
    /// The executable mapping holding `addr`, with its module's index.
    pub fn module_of(&self, addr: u64) -> Option<(&Mapping, usize)> {
        self.exec
            .iter()
            .find(|(m, _)| m.contains(addr))
            .map(|(m, i)| (m, *i))
    }

    /// Whether the code at `addr` has unwind information (outside any
    /// module: nothing says it has none).
    pub fn has_unwind_info(&self, addr: u64) -> bool {
        self.module_of(addr)
            .and_then(|(_, i)| self.modules.get(i))
            .is_none_or(|m| m.unwind)
    }

    /// The mapping holding `addr`.
    pub fn mapping_of(&self, addr: u64) -> Option<&Mapping> {
        self.maps.iter().find(|m| m.contains(addr))
    }
}

/// Where to copy `m`'s file from: the path inside the process's root
/// (`/proc/PID/root/…`, so that a container's files are its own) when it
/// is still the mapped file, else its `map_files` link (deleted or
/// replaced). Only paths: the helper opens them.
fn want(proc_dir: &std::path::Path, m: &Mapping) -> procscope_read::modcopy::Want {
    let by_map = proc_dir.join(format!("map_files/{:x}-{:x}", m.start, m.end));
    let root_path = m
        .path
        .as_ref()
        .map(|p| p.as_slice())
        .filter(|p| !p.ends_with(b" (deleted)"))
        .map(|p| {
            let mut root = proc_dir.join("root").into_os_string();
            root.push(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(p));
            PathBuf::from(root)
        });
    procscope_read::modcopy::Want {
        root_path,
        by_map,
        inode: m.inode,
    }
}

/// Finds the debug file each newly loaded module's `.gnu_debuglink`
/// names, where gdb looks: beside the module, in `.debug/` there (both
/// inside the process's root), and under the host's `/usr/lib/debug`
/// followed by the module's directory. All candidates are copied by one
/// helper (nothing here opens them); the first whose CRC matches is
/// kept. (`/usr/lib/debug/.build-id` and MiniDebugInfo are blazesym's.)
fn debug_files(
    todo: &[((u64, u64), &Mapping)],
    loaded: &mut [Result<Loaded, String>],
    proc_dir: &std::path::Path,
    timeout: std::time::Duration,
) {
    use std::os::unix::ffi::OsStrExt;
    let mut wants = Vec::new();
    let mut whose: Vec<(usize, u32)> = Vec::new();
    for (i, ((_, m), got)) in todo.iter().zip(loaded.iter()).enumerate() {
        let (Ok(l), Some(path)) = (got, m.path.as_ref()) else {
            continue;
        };
        let Some((name, crc)) = &l.elf.debuglink else {
            continue;
        };
        let path = path.as_slice();
        if path.ends_with(b" (deleted)") || !path.starts_with(b"/") {
            continue;
        }
        let dir = path
            .iter()
            .rposition(|&c| c == b'/')
            .and_then(|k| path.get(..k))
            .unwrap_or_default();
        let join = |parts: &[&[u8]]| {
            let mut b = Vec::new();
            for p in parts {
                b.extend_from_slice(p);
            }
            PathBuf::from(std::ffi::OsStr::from_bytes(&b))
        };
        let root = proc_dir.join("root");
        let root = root.as_os_str().as_bytes();
        for cand in [
            join(&[root, dir, b"/", name]),
            join(&[root, dir, b"/.debug/", name]),
            join(&[b"/usr/lib/debug", dir, b"/", name]),
        ] {
            wants.push(procscope_read::modcopy::Want {
                root_path: Some(cand),
                by_map: PathBuf::new(),
                inode: 0,
            });
            whose.push((i, *crc));
        }
    }
    if wants.is_empty() {
        return;
    }
    let Ok(copies) = procscope_read::modcopy::sealed_copies(&wants, timeout) else {
        return;
    };
    for ((i, crc), copy) in whose.into_iter().zip(copies) {
        let Ok(f) = copy else { continue };
        let Some(Ok(l)) = loaded.get_mut(i) else {
            continue;
        };
        if l.debug.is_none() && crc_of(&f) == Some(crc) {
            l.debug = Some(Arc::new(f));
        }
    }
}

/// The CRC-32 of a file's bytes (the `.gnu_debuglink` kind), read from
/// procscope's own sealed copy.
fn crc_of(f: &std::fs::File) -> Option<u32> {
    // Positional reads: the copy's file offset is where the helper's
    // writes left it (its end), and other readers share it.
    use std::os::unix::fs::FileExt;
    let mut h = crc32fast::Hasher::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut at = 0u64;
    loop {
        let n = f.read_at(&mut buf, at).ok()?;
        if n == 0 {
            break;
        }
        h.update(buf.get(..n)?);
        at = at.checked_add(n as u64)?;
    }
    Some(h.finalize())
}

/// The code of the process whose `/proc/PID` is `proc_dir` and whose maps
/// are `maps`: one framehop module per executable file mapping, unwind
/// sections from `cache`. Files not yet in the cache are copied by one
/// helper within `timeout`; nothing here opens a file of the target.
pub fn code(
    cache: &Cache,
    proc_dir: &std::path::Path,
    maps: Vec<Mapping>,
    timeout: std::time::Duration,
) -> Code {
    let files = || maps.iter().filter(|m| m.exec() && m.is_file());
    // Copies of the files this run has not read yet, in one helper.
    let mut todo: Vec<((u64, u64), &Mapping)> = Vec::new();
    for m in files() {
        let key = (m.dev, m.inode);
        if cache.get(key).is_none() && !todo.iter().any(|(k, _)| *k == key) {
            todo.push((key, m));
        }
    }
    if !todo.is_empty() {
        let wants: Vec<_> = todo.iter().map(|(_, m)| want(proc_dir, m)).collect();
        let copies = procscope_read::modcopy::sealed_copies(&wants, timeout);
        let mut loaded = Vec::with_capacity(todo.len());
        for (i, (_, m)) in todo.iter().enumerate() {
            let name =
                String::from_utf8_lossy(m.path.as_ref().map_or(b"", |p| p.as_slice())).into_owned();
            let got = match copies.as_ref().map(|c| c.get(i)) {
                Ok(Some(Ok(f))) => {
                    f.try_clone()
                        .map_err(|e| format!("{name}: {e}"))
                        .and_then(|f| {
                            let elf = load(&f).map_err(|e| format!("{name}: {e}"))?;
                            Ok(Loaded {
                                elf,
                                debug: None,
                                copy: Arc::new(f),
                            })
                        })
                }
                Ok(Some(Err(procscope_read::modcopy::NotCopied::TimedOut))) | Ok(None) => {
                    Err(format!("timed out opening {name}"))
                }
                Ok(Some(Err(e))) => Err(format!("{name}: {e}")),
                Err(f) => Err(format!("{name}: {f}")),
            };
            loaded.push(got);
        }
        debug_files(&todo, &mut loaded, proc_dir, timeout);
        for ((key, _), got) in todo.iter().zip(loaded) {
            cache.insert(*key, got);
        }
    }
    let mut unwinder = UnwinderX86_64::new();
    let mut modules: Vec<ModuleInfo> = Vec::new();
    let mut by_file: HashMap<(u64, u64), usize> = HashMap::new();
    let mut exec = Vec::new();
    for m in files() {
        let key = (m.dev, m.inode);
        let idx = match by_file.get(&key) {
            Some(i) => *i,
            None => {
                let got = cache
                    .get(key)
                    .unwrap_or_else(|| Arc::new(Err("not copied".into())));
                let error = got.as_ref().as_ref().err().cloned();
                let unwind = got.as_ref().as_ref().is_ok_and(|l| l.elf.unwind);
                modules.push(ModuleInfo {
                    name: m.path.clone().unwrap_or_default(),
                    key,
                    copy: got.as_ref().as_ref().ok().map(|l| l.copy.clone()),
                    debug: got.as_ref().as_ref().ok().and_then(|l| l.debug.clone()),
                    loads: got
                        .as_ref()
                        .as_ref()
                        .map(|l| l.elf.loads.clone())
                        .unwrap_or_default(),
                    error,
                    unwind,
                });
                let i = modules.len() - 1;
                by_file.insert(key, i);
                if let Ok(l) = got.as_ref() {
                    if let Some(bias) = l.elf.bias(m.start, m.offset) {
                        let name =
                            String::from_utf8_lossy(m.path.as_ref().map_or(b"", |p| p.as_slice()));
                        unwinder.add_module(Module::new(
                            name.into_owned(),
                            m.start..m.end,
                            bias,
                            l.elf.sections.clone(),
                        ));
                    }
                }
                i
            }
        };
        exec.push((m.clone(), idx));
    }
    Code {
        maps,
        modules,
        exec,
        unwinder,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_lld_code_segment_that_starts_mid_page_gets_its_own_bias() {
        // lld: R at offset 0, R E at p_offset 0x15790 / p_vaddr 0x16790,
        // mapped from the page-aligned offset 0x15000.
        let e = Elf {
            sections: ExplicitModuleSectionInfo::default(),
            loads: vec![(0, 0, 0x15790, false), (0x15790, 0x16790, 0x3000, true)],
            unwind: true,
            debuglink: None,
        };
        let start = 0x7f00_0001_5000u64;
        // 0x15790 of the file is at start + 0x790, stated 0x16790.
        assert_eq!(e.bias(start, 0x15000), Some(start + 0x790 - 0x16790));
        // A small lld binary: R E at 0xaf0 / 0x1af0 shares the first page
        // with R, both mapped from offset 0.
        let small = Elf {
            sections: ExplicitModuleSectionInfo::default(),
            loads: vec![(0, 0, 0xae8, false), (0xaf0, 0x1af0, 0x500, true)],
            unwind: true,
            debuglink: None,
        };
        let s = 0x5555_0000_1000u64;
        assert_eq!(small.bias(s, 0), Some(s + 0xaf0 - 0x1af0));
    }
}
