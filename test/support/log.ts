import * as path from "node:path"
import { DatabaseSync } from "node:sqlite"

export interface Row {
  readonly eve: number
  readonly wen: number
  readonly mug: number | null
  readonly ev: unknown
}

/** The pier's log, read directly from its SQLite file (the pier must be closed). */
export const readLog = (dir: string): Array<Row> => {
  const db = new DatabaseSync(path.join(dir, "pier.db"), { readOnly: true })
  try {
    const rows = db.prepare("SELECT eve, wen, mug, ev FROM events ORDER BY eve").all() as Array<
      { eve: number; wen: number; mug: number | null; ev: string }
    >
    return rows.map((r) => ({ ...r, ev: JSON.parse(r.ev) }))
  } finally {
    db.close()
  }
}
