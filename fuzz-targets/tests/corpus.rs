#![allow(
    clippy::print_stdout,
    reason = "names each replayed input so a failure points at its file"
)]

//! Replays every committed corpus and crash input through its target on
//! stable: `fuzz/corpus/<target>/*` and `fuzz/regressions/<target>/*`.

use std::path::Path;

#[test]
fn every_committed_input_passes_its_target() {
    let replayed = replay(&["corpus", "regressions"]);
    // Every target has a seeded corpus: an empty replay means a wrong path.
    assert!(
        replayed >= fuzz_targets::TARGETS.len(),
        "replayed {replayed} inputs"
    );
}

/// Runs every input under `fuzz/<dir>/<target>/` through its target;
/// returns how many ran.
fn replay(dirs: &[&str]) -> usize {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut replayed = 0;
    for (name, target) in fuzz_targets::TARGETS {
        for dir in dirs {
            let Ok(entries) = std::fs::read_dir(fuzz.join(dir).join(name)) else {
                continue;
            };
            for entry in entries {
                let path = entry.unwrap().path();
                let bytes = std::fs::read(&path).unwrap();
                // A panic names the file through the test's output.
                println!("{}", path.display());
                target(&bytes);
                replayed += 1;
            }
        }
    }
    replayed
}

#[test]
fn every_target_takes_empty_and_garbage_input() {
    for (name, target) in fuzz_targets::TARGETS {
        for input in [&b""[..], &[0u8; 1], &[0xff; 300], b"MRKLHYLSBLMF"] {
            println!("{name} {input:?}");
            target(input);
        }
    }
}
