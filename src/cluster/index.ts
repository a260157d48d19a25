/**
 * cluster — the PostgreSQL storage under `liege cluster` (SPEC §9): the
 * serfs' event logs and the session jobs, each fenced by an epoch.
 */
export { claim, type EventLog, type LoggedEvent, SERF_ID } from "./event-log.ts"
export { openPier, pierLog } from "./pier-log.ts"
export { type Job, type JobState, type JobStore, make as makeJobStore, type Outcome, type SessionOwner } from "./job-store.ts"
export { JobFenced, JobIo, JobRefused, LogFenced, LogIo, LogRefused } from "./errors.ts"
