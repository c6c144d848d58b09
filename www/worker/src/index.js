// Entry of the churn Worker (ES modules). Everything imported here is prepared by
// `npm run build` in www/ (the wasm package in www/pkg/) or committed (model.bin).
// The module scope runs once per isolate: the precompiled wasm module is instantiated with
// initSync({ module }) and the model file, imported as a Data module (an ArrayBuffer), is loaded.
// To serve another model, replace ../model.bin (see docs/WORKER.md).
import wasmModule from "../../pkg/churn_bg.wasm";
import modelBytes from "../model.bin";
import { createWorker } from "./app.js";

export default createWorker(wasmModule, modelBytes);
