// as-pect runs the kernel-level AssemblyScript tests in tests/assembly (its own runtime and flags; the shipped
// build, with shared memory, is tested from the TypeScript runner in tests/*.test.ts).
export default {
  entries: ['tests/assembly/**/*.spec.ts'],
  include: ['tests/assembly/**/*.include.ts'],
  disclude: [/node_modules/],
  async instantiate(memory, createImports, instantiate, binary) {
    return instantiate(binary, createImports({ env: { memory } }));
  },
  outputBinary: false,
};
