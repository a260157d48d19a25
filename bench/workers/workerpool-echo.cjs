// workerpool's worker.
const workerpool = require("workerpool")
workerpool.worker({ echo: (payload) => payload.value })
