// jest-worker's worker: one exported function per method.
exports.echo = (payload) => payload.value
