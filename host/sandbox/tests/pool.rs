//! The sandbox's own trouble is never the event's fault: with every pool
//! slot taken, a parse fails as `Unavailable` (a retry for the pipeline),
//! not as a trap that would mark the entry ERROR.

use std::path::Path;

use cybexp_sandbox::{EngineOptions, Limits, ParseError, ParseInput, Sandbox};

fn input<'a>(sub_type: &'a str, plaintext: &'a str) -> ParseInput<'a> {
    ParseInput { typtag: "t", orgid: "o", timezone: "UTC", sub_type, plaintext }
}

#[test]
fn an_exhausted_pool_is_unavailable_not_a_trap() {
    let mut sandbox = Sandbox::new(EngineOptions { max_live_instances: 1, ..EngineOptions::default() }).unwrap();
    sandbox.load_builtin_parsers(|_| Limits::default()).unwrap();
    let hostile = Path::new(cybexp_sandbox::TEST_GUESTS_DIR).join("hostile.component.wasm");
    // Spins until its deadline: holds the only slot for a while.
    let hog = Limits { fuel: u64::MAX / 2, deadline_ms: 1_500, ..Limits::default() };
    sandbox.load_file("hog", &hostile, hog).unwrap();

    // The hog and a parse race for the only slot. A parse that finds it
    // taken is what this test is about; a hog that lost the race (it is
    // refused, having never run) means another round.
    let (error, stats, held) = loop {
        let round = std::thread::scope(|scope| {
            let holder = scope.spawn(|| sandbox.parse("hog", &input("loop", "")).0);
            loop {
                let (result, stats) = sandbox.parse("json", &input("json", "{\"a\": 1}"));
                if let Err(error) = result {
                    return Some((error, stats, holder.join().unwrap()));
                }
                if holder.is_finished() {
                    let held = holder.join().unwrap();
                    assert!(matches!(held, Err(ParseError::Unavailable(_))), "the hog ran ({held:?}), the slot free");
                    return None;
                }
                // Pacing, so the hog gets its turn at the slot.
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        });
        if let Some(found) = round {
            break found;
        }
    };
    assert!(matches!(&error, ParseError::Unavailable(why) if why.contains("instantiating")), "{error:?}");
    assert!(error.is_archiver_trouble());
    assert_eq!(error.reason(), "unavailable");
    assert_eq!(stats.fuel_used, 0, "the event never ran");
    assert!(matches!(held, Err(ParseError::Deadline(_))), "{held:?}");
    let (again, _) = sandbox.parse("json", &input("json", "{\"a\": 1}"));
    again.expect("the slot is free again");
}

#[test]
fn the_pool_grows_with_the_workers() {
    assert_eq!(EngineOptions::for_workers(1).max_live_instances, EngineOptions::default().max_live_instances);
    assert_eq!(EngineOptions::for_workers(200).max_live_instances, 408);
    assert!(EngineOptions::for_workers(usize::MAX).max_live_instances >= 64);
}

#[test]
fn only_the_sandbox_s_own_failures_are_archiver_trouble() {
    let entry_faults = [
        ParseError::InvalidInput("x".into()),
        ParseError::Fuel(1),
        ParseError::Deadline(1),
        ParseError::Memory(1),
        ParseError::Trap("unreachable".into()),
        ParseError::BadOutput("x".into()),
        ParseError::InputTooLarge { size: 2, limit: 1 },
        ParseError::OutputTooLarge { size: 2, limit: 1 },
    ];
    for error in entry_faults {
        assert!(!error.is_archiver_trouble(), "{error:?}");
    }
    assert!(ParseError::Unavailable("pool".into()).is_archiver_trouble());
    assert!(ParseError::UnknownParser("x".into()).is_archiver_trouble());
}
