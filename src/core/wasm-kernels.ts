/**
 * Kernels that tfjs-backend-wasm 4.22 lacks, registered for 'wasm' from kernels it has.
 * (Owned by src/vision work: Conv2DBackpropFilter for training the VAE; see DESIGN.md.)
 */
export function registerMissingWasmKernels(): void {
  // Filled in by the VAE work (issue 4).
}
