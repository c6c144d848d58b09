//! Profiles as JSON text (what `churn monitor --from` reads from a Worker's GET /monitoring)
//! through `Profile::from_json` with the golden model. See `churn_fuzz::profile`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| churn_fuzz::profile(data));
