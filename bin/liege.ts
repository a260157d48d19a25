#!/usr/bin/env node
// `liege` from the repository's sources (the package's bin is dist/bin/liege.js).
import "../src/cli/bin.ts"
