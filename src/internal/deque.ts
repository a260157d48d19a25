/**
 * A FIFO queue on a growable ring buffer: O(1) push and shift, no
 * per-element allocation once it has grown to its working size.
 */
export class Deque<A> {
  private items: Array<A | undefined> = new Array(16)
  private head = 0
  private size = 0

  get length(): number {
    return this.size
  }

  push(item: A): void {
    if (this.size === this.items.length) this.grow()
    this.items[(this.head + this.size) & (this.items.length - 1)] = item
    this.size++
  }

  peek(): A | undefined {
    return this.size === 0 ? undefined : this.items[this.head]
  }

  shift(): A | undefined {
    if (this.size === 0) return undefined
    const item = this.items[this.head]
    this.items[this.head] = undefined
    this.head = (this.head + 1) & (this.items.length - 1)
    this.size--
    return item
  }

  /** Removes and returns everything, oldest first. */
  drain(): Array<A> {
    const out: Array<A> = []
    while (this.size > 0) out.push(this.shift() as A)
    return out
  }

  private grow(): void {
    const next: Array<A | undefined> = new Array(this.items.length * 2)
    for (let i = 0; i < this.size; i++) next[i] = this.items[(this.head + i) & (this.items.length - 1)]
    this.items = next
    this.head = 0
  }
}
