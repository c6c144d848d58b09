//! Customer records: JSON (or a CSV line) mapped to `Value`s, then encode / probability /
//! score / explain with the golden model and two stricter/looser variants of it.
//! See `churn_fuzz::record`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| churn_fuzz::record(data));
