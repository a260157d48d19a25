import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // most files wait on processes, not on the CPU: three at a time on two cores
    maxWorkers: 3,
    setupFiles: ["test/support/guard.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ["default", "json"],
    outputFile: { json: "vitest.json" }
  }
})
