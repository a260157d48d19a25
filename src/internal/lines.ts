/**
 * Splits a byte stream into text lines (UTF-8, a multi-byte character may be
 * cut between chunks). A line longer than `maxLine` characters is emitted in
 * pieces, so a child that never writes a newline cannot make us buffer
 * without bound.
 */
import { StringDecoder } from "node:string_decoder"

export class LineSplitter {
  private readonly decoder = new StringDecoder("utf8")
  private partial = ""
  private readonly maxLine: number
  private readonly onLine: (line: string) => void

  constructor(onLine: (line: string) => void, maxLine = 16 * 1024) {
    this.onLine = onLine
    this.maxLine = maxLine
  }

  push(chunk: Buffer): void {
    let text = this.partial + this.decoder.write(chunk)
    let start = 0
    for (let nl = text.indexOf("\n", start); nl !== -1; nl = text.indexOf("\n", start)) {
      this.emit(text.slice(start, nl))
      start = nl + 1
    }
    text = text.slice(start)
    while (text.length > this.maxLine) {
      this.onLine(text.slice(0, this.maxLine))
      text = text.slice(this.maxLine)
    }
    this.partial = text
  }

  end(): void {
    const rest = this.partial + this.decoder.end()
    this.partial = ""
    if (rest.length > 0) this.emit(rest)
  }

  private emit(line: string): void {
    const trimmed = line.endsWith("\r") ? line.slice(0, -1) : line
    for (let i = 0; i < trimmed.length; i += this.maxLine) this.onLine(trimmed.slice(i, i + this.maxLine))
    if (trimmed.length === 0) this.onLine("")
  }
}
