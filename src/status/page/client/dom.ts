/// <reference lib="dom" />
/**
 * The status page's client, part 2 (see page/client/index.ts): the page's
 * elements, found by id and written to only when they change, and the pieces
 * the views share — table rows, sparklines, state pills, recent errors.
 *
 * Text from the document reaches the page only through `txt` (textContent)
 * and `attr` (an attribute's value), never as markup.
 *
 * Runs in the browser. This function is embedded in the page as its source
 * text, so it may refer to nothing outside itself but browser globals and
 * types.
 */
import type { RecentError, SerfState, SlotState } from "../../document.ts"
import type { Formats } from "./format.ts"

/** The cells of a row, one for each of its class names. */
export type Cells<C extends ReadonlyArray<string>> = { readonly [I in keyof C]: HTMLTableCellElement }

export const dom = (f: Formats) => {
  const $ = (id: string): HTMLElement => {
    const e = document.getElementById(id)
    if (e === null) throw new Error("the page has no #" + id)
    return e
  }
  /** The element `id`, which must be a `type` (an HTMLTableElement, …). */
  const $as = <E extends Element>(id: string, type: { new (): E; prototype: E }): E => {
    const e = document.getElementById(id)
    if (!(e instanceof type)) throw new Error("#" + id + " is not a " + type.name)
    return e
  }
  /** The first element under `parent` that matches `selector`. */
  const find = (parent: ParentNode, selector: string): HTMLElement => {
    const e = parent.querySelector<HTMLElement>(selector)
    if (e === null) throw new Error("nothing matches " + selector)
    return e
  }

  const txt = (e: Node, v: string | number): void => {
    const s = String(v)
    if (e.textContent !== s) e.textContent = s
  }
  const cls = (e: Element, c: string): void => {
    if (e.getAttribute("class") !== c) e.setAttribute("class", c)
  }
  const attr = (e: Element, k: string, v: string | number): void => {
    const s = String(v)
    if (e.getAttribute(k) !== s) e.setAttribute(k, s)
  }
  const show = (e: HTMLElement, on: boolean): void => {
    if (e.hidden === on) e.hidden = !on
  }
  /** A bar's width: `fraction` of the whole, clamped to 0…1. */
  const width = (e: HTMLElement, fraction: number): void => {
    const w = (Math.max(0, Math.min(1, f.isNum(fraction) ? fraction : 0)) * 100).toFixed(2) + "%"
    if (e.style.width !== w) e.style.width = w
  }
  /** The states the style sheet has a colour for: a state added to the schema must be added here (and there). */
  const known: Record<SlotState | SerfState, true> = {
    booting: true, ready: true, busy: true, retiring: true, restarting: true, replaying: true, running: true, stopped: true
  }
  const stateClass = (s: string): string => "pill s-" + (Object.prototype.hasOwnProperty.call(known, s) ? s : "unknown")
  const el = <K extends keyof HTMLElementTagNameMap>(tag: K, c: string, parent?: Node): HTMLElementTagNameMap[K] => {
    const e = document.createElement(tag)
    if (c) e.className = c
    if (parent) parent.appendChild(e)
    return e
  }
  /** A state pill (a dot and a label) appended to `parent`. */
  const pill = (parent: Node): HTMLSpanElement => {
    const p = el("span", "pill s-unknown", parent)
    el("span", "dot", p)
    el("span", "label", p)
    return p
  }
  /** Sets a pill made by `pill` to `state`: its colour and its label. */
  const setPill = (p: HTMLElement, state: string): void => {
    cls(p, stateClass(state))
    txt(find(p, ".label"), state)
  }
  /** "4 workers: 1 ready, 1 busy": the states counted, in the order of `order`'s keys. */
  const summarize = <S extends string>(counts: Partial<Record<S, number>>, order: Record<S, true>): string => {
    const out: Array<string> = []
    for (const k of Object.keys(order) as Array<S>) {
      const n = counts[k]
      if (n) out.push(n + " " + k)
    }
    return out.length ? ": " + out.join(", ") : ""
  }

  const cellsOf = <C extends ReadonlyArray<string>>(tr: HTMLTableRowElement, classes: C): Cells<C> => {
    const cells = Array.from(tr.cells)
    if (cells.length !== classes.length) throw new Error("a row of " + cells.length + " cells, not " + classes.length)
    return cells as unknown as Cells<C>
  }
  const newRow = <C extends ReadonlyArray<string>>(classes: C, parent?: Node): HTMLTableRowElement => {
    const tr = el("tr", "", parent)
    for (const c of classes) el("td", c, tr)
    return tr
  }
  /**
   * A table body of a row per item, each row with a cell per class name:
   * `make` fills a new row's cells with their parts, `fill` writes an item
   * into its row. The rows stay: missing ones are made, and extra ones
   * removed, at the end.
   */
  const rows = <T, const C extends ReadonlyArray<string>>(
    table: HTMLTableElement,
    items: ReadonlyArray<T>,
    classes: C,
    make: ((cells: Cells<C>) => void) | null,
    fill: (cells: Cells<C>, item: T, tr: HTMLTableRowElement) => void
  ): void => {
    const body = table.tBodies[0]
    if (body === undefined) throw new Error("#" + table.id + " has no body")
    while (body.rows.length < items.length) {
      const tr = newRow(classes, body)
      if (make) make(cellsOf(tr, classes))
    }
    while (body.rows.length > items.length) body.deleteRow(-1)
    items.forEach((item, i) => {
      const tr = body.rows.item(i)
      if (tr !== null) fill(cellsOf(tr, classes), item, tr)
    })
  }
  /**
   * Like `rows`, but each row keyed by the attribute `k` (`key(item)`), in
   * the order of the items: a row stays the same element while its key stays.
   */
  const keyed = <T, const C extends ReadonlyArray<string>>(
    table: HTMLTableElement,
    items: ReadonlyArray<T>,
    key: (item: T) => string,
    k: string,
    classes: C,
    make: (cells: Cells<C>) => void,
    fill: (cells: Cells<C>, item: T, tr: HTMLTableRowElement) => void
  ): void => {
    const body = table.tBodies[0]
    if (body === undefined) throw new Error("#" + table.id + " has no body")
    const old = new Map<string | null, HTMLTableRowElement>()
    for (const tr of Array.from(body.rows)) old.set(tr.getAttribute(k), tr)
    const out: Array<readonly [HTMLTableRowElement, T]> = []
    items.forEach((item, i) => {
      const id = key(item)
      let tr = old.get(id)
      if (tr) old.delete(id)
      else {
        tr = newRow(classes)
        attr(tr, k, id)
        make(cellsOf(tr, classes))
      }
      if (body.rows.item(i) !== tr) body.insertBefore(tr, body.rows.item(i))
      out.push([tr, item])
    })
    old.forEach((tr) => tr.remove())
    for (const [tr, item] of out) fill(cellsOf(tr, classes), item, tr)
  }

  /** A sparkline (#id, made by html.ts): a value per second for the last 60 s, oldest first, the newest at the right. */
  const spark = (id: string, values: ReadonlyArray<number | null>, kind: "bars" | "line", unit: (v: number) => string): void => {
    const path = $as(id, SVGSVGElement).querySelector("path")
    if (path === null) throw new Error("#" + id + " has no path")
    const vs = values.slice(-60)
    const off = 60 - vs.length
    let max = 0
    for (const v of vs) if (f.isNum(v) && v > max) max = v
    const top = max > 0 ? max : 1
    const y = (v: number): string => (33 - (v / top) * 31).toFixed(2)
    let d = ""
    if (kind === "bars") {
      vs.forEach((v, i) => {
        if (f.isNum(v) && v > 0) d += "M" + (off + i + 0.12).toFixed(2) + " 33.5V" + y(v) + "h0.76V33.5z"
      })
    } else {
      let pen = false
      vs.forEach((v, i) => {
        if (!f.isNum(v)) {
          pen = false
          return
        }
        const x = (off + i + 0.5).toFixed(2)
        if (!pen && !f.isNum(vs[i + 1])) d += "M" + (off + i + 0.2).toFixed(2) + " " + y(v) + "H" + (off + i + 0.8).toFixed(2)
        else d += (pen ? "L" : "M") + x + " " + y(v)
        pen = true
      })
    }
    attr(path, "d", d)
    txt($(id + "-peak"), max > 0 ? "peak " + unit(max) : "")
  }

  /** A table of recent errors (#id, and #id-empty for none): the newest 20, newest first. */
  const errors = (id: string, es: ReadonlyArray<RecentError>): void => {
    const list = es.slice().sort((a, b) => b.at - a.at).slice(0, 20)
    rows($as(id, HTMLTableElement), list, ["t", "tag", "msg"], ([, , msg]) => void el("div", "", msg), ([t, tag, msg], e) => {
      txt(t, f.clock(e.at))
      txt(tag, e.tag)
      txt(find(msg, "div"), e.message)
      attr(tag, "title", e.tag)
      attr(msg, "title", e.message)
    })
    show($(id), list.length > 0)
    show($(id + "-empty"), list.length === 0)
  }

  return { $, $as, find, txt, cls, attr, show, width, stateClass, el, pill, setPill, summarize, rows, keyed, spark, errors }
}

export type Dom = ReturnType<typeof dom>
