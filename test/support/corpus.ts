/**
 * The corpora in ../shared/corpus (DESIGN.md "Peers we test against"): other projects' test
 * vectors, kept next to the repository rather than in it. A fresh clone has no such folder,
 * and a suite that reads one then skips *visibly* (`t.plan(0, message)` or a subtest's
 * `skip: message`, with the message `corpusMissing` gives), never with a `t.pass`: a skipped
 * suite must show as skipped in the summary, not as passing.
 *
 * `WIREPOOL_CORPUS=<dir>` replaces ../shared/corpus, e.g. to see what a clone without it does:
 *   WIREPOOL_CORPUS=/nonexistent npx tap --disable-coverage test/h2/hpack-corpus.test.ts
 */
import { existsSync } from 'node:fs'
import { pathToFileURL } from 'node:url'

const override = process.env['WIREPOOL_CORPUS']
const ROOT = override !== undefined && override !== '' ? pathToFileURL(override.endsWith('/') ? override : `${override}/`) : new URL('../../../shared/corpus/', import.meta.url)

/** A corpus file, or folder when `relative` ends with '/'. */
export function corpusUrl(relative: string): URL {
  return new URL(relative, ROOT)
}

/** Undefined when the corpus file or folder exists; else the skip message for the suite that needs it. */
export function corpusMissing(relative: string): string | undefined {
  return existsSync(corpusUrl(relative)) ? undefined : `../shared/corpus/${relative} missing: a fresh clone skips this suite`
}
