//! Model files: arbitrary bytes through `Model::from_bytes`, as-is and re-wrapped in a valid
//! header so mutations reach the payload decoder and the validator. See `churn_fuzz::artifact`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| churn_fuzz::artifact(data));
