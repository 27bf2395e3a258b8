//! A deliberately hostile parser component for the sandbox tests. What it
//! does is chosen by the configured `sub_type`, so one component covers the
//! whole hostile corpus; behaviours a real parser cannot be driven into.

use cybexp_tahoe::{ParseFailure, ParseInput, RawDoc, RecordCounts};

/// Runs the behaviour named by `input.sub_type`.
pub fn parse(input: &ParseInput<'_>) -> Result<RawDoc, ParseFailure> {
    match input.sub_type {
        "loop" => spin_forever(),
        "alloc" => allocate_forever(),
        "recurse" => Ok(doc(input, recurse(u64::MAX).to_string())),
        "panic" => panic!("hostile guest panicked on purpose"),
        "giant-output" => Ok(doc(input, "x".repeat(input.plaintext.len().max(1) << 20))),
        "echo" => Ok(doc(input, input.plaintext.to_owned())),
        // Counts the copies of a marker (given reversed, so the input itself
        // does not match) anywhere in its linear memory: 1 (its own) unless
        // an earlier instance's data survived into this one.
        "snoop" => {
            let marker: Vec<u8> = input.plaintext.bytes().rev().collect();
            let copies = copies_in_memory(&marker);
            Ok(RawDoc {
                sub_type: input.sub_type.to_owned(),
                data_json: format!("{{\"copies\": {copies}}}"),
                hash: "0".repeat(64),
                ..RawDoc::default()
            })
        }
        // Hashes a megabyte with the host's `sha256` over and over: the host
        // must charge fuel for the work it does on the guest's behalf.
        "digest-flood" => {
            let block = vec![0u8; 1 << 20];
            loop {
                std::hint::black_box(cybexp_tahoe::digest::sha256(&[&block]));
            }
        }
        // The guests' own memcmp (glue/src/mem.rs) checked where it runs:
        // against a byte loop, at every length, position and kind of
        // difference up to 72 bytes, at four alignments.
        "memcmp-selftest" => {
            let (checked, wrong) = memcmp_selftest();
            Ok(RawDoc {
                sub_type: input.sub_type.to_owned(),
                data_json: format!("{{\"checked\": {checked}, \"wrong\": {wrong}}}"),
                hash: "0".repeat(64),
                ..RawDoc::default()
            })
        }
        // A valid, minimal document: measures the sandbox's own cost per call.
        "noop" => Ok(RawDoc {
            sub_type: input.sub_type.to_owned(),
            data_json: "{}".into(),
            hash: "0".repeat(64),
            ..RawDoc::default()
        }),
        // Counts a parser cannot have read: more malformed records than
        // records, and a note as long as the input. The host must refuse
        // the first and cut the second.
        "bad-counts" | "long-note" => Ok(RawDoc {
            sub_type: input.sub_type.to_owned(),
            data_json: "{}".into(),
            hash: "0".repeat(64),
            counts: RecordCounts { records: 3, malformed: if input.sub_type == "bad-counts" { 4 } else { 1 } },
            first_malformed: Some(input.plaintext.to_owned()),
        }),
        other => Err(ParseFailure::NotSupported(format!("no hostile behaviour {other:?}"))),
    }
}

/// (comparisons made, comparisons whose sign differs from a byte loop's).
fn memcmp_selftest() -> (usize, usize) {
    fn naive(a: &[u8], b: &[u8]) -> i32 {
        a.iter().zip(b).map(|(x, y)| i32::from(*x) - i32::from(*y)).find(|d| *d != 0).unwrap_or(0)
    }
    let (mut checked, mut wrong) = (0, 0);
    let mut check = |a: &[u8], b: &[u8]| {
        // black_box: the call must reach the linked memcmp, not be folded.
        let ours = std::hint::black_box(a).cmp(std::hint::black_box(b)) as i32;
        checked += 1;
        wrong += usize::from(ours != naive(a, b).signum());
    };
    let base: Vec<u8> = (0..96usize).map(|i| (i * 37 % 251) as u8).collect();
    for offset in 0..4 {
        for n in 0..=72 {
            let a = &base[offset..offset + n];
            // Equal contents at another address.
            let copy = a.to_vec();
            check(a, &copy);
            for at in 0..n {
                for delta in [1u8, 0x80, 0xff] {
                    let mut b = a.to_vec();
                    b[at] = b[at].wrapping_add(delta);
                    check(a, &b);
                }
            }
        }
    }
    (checked, wrong)
}

fn doc(input: &ParseInput<'_>, payload: String) -> RawDoc {
    RawDoc {
        sub_type: input.sub_type.to_owned(),
        data_json: format!("{{\"data\": {:?}}}", payload.len()),
        hash: payload,
        ..RawDoc::default()
    }
}

/// How often `needle` occurs in this instance's whole linear memory.
fn copies_in_memory(needle: &[u8]) -> usize {
    let Some((&first, rest)) = needle.split_first() else { return 0 };
    #[cfg(target_arch = "wasm32")]
    let size = core::arch::wasm32::memory_size(0) * 65536;
    #[cfg(not(target_arch = "wasm32"))]
    let size: usize = 0;
    // Volatile reads of raw addresses: the scan must look at every byte of
    // memory, not at what the compiler believes is there.
    // SAFETY: every address below `size` is inside this instance's linear
    // memory (wasm32 memory starts at 0 and is `size` bytes long), and
    // reading any byte of it is defined; off wasm32 `size` is 0, so no
    // address is read at all.
    let at = |addr: usize| unsafe { core::ptr::read_volatile(addr as *const u8) };
    (1..size.saturating_sub(needle.len()))
        .filter(|&addr| at(addr) == first && rest.iter().enumerate().all(|(j, &b)| at(addr + 1 + j) == b))
        .count()
}

#[allow(clippy::empty_loop)]
fn spin_forever() -> ! {
    let mut n: u64 = 0;
    loop {
        n = std::hint::black_box(n.wrapping_add(1));
    }
}

fn allocate_forever() -> ! {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        hoard.push(vec![0xA5; 1 << 20]);
        std::hint::black_box(&hoard);
    }
}

#[allow(unconditional_recursion)]
fn recurse(n: u64) -> u64 {
    std::hint::black_box(recurse(std::hint::black_box(n.wrapping_sub(1))).wrapping_add(1))
}

#[cfg(target_arch = "wasm32")]
cybexp_guest_glue::parser_component!(name: "hostile", parse: crate::parse);
