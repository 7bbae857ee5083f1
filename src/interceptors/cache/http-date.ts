/**
 * HTTP-date (RFC 9110 §5.6.7), pure: IMF-fixdate, and the obsolete RFC 850 and asctime forms
 * a recipient must also accept. Anything else is invalid (`null`): an invalid `Expires`
 * means "already expired" (RFC 9111 §5.3), so no lenient `Date.parse` guessing here.
 * Names are matched case-insensitively (a cache may, and the wrong-case dates seen in the
 * wild are unambiguous).
 */

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec']
const DAY = '(?:mon|tue|wed|thu|fri|sat|sun)'
const LONG_DAY = '(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)'
const MONTH = '(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)'
const TIME = '([0-9]{2}):([0-9]{2}):([0-9]{2})'

const IMF_FIXDATE = new RegExp(`^${DAY}, ([0-9]{2}) ${MONTH} ([0-9]{4}) ${TIME} GMT$`, 'i')
const RFC850 = new RegExp(`^${LONG_DAY}, ([0-9]{2})-${MONTH}-([0-9]{2}) ${TIME} GMT$`, 'i')
const ASCTIME = new RegExp(`^${DAY} ${MONTH} ([0-9 ][0-9]) ${TIME} ([0-9]{4})$`, 'i')

/** Milliseconds since the epoch, or null when `value` is not an HTTP-date. `now` places RFC 850's two-digit year. */
export function parseHttpDate(value: string, now = Date.now()): number | null {
  let m = IMF_FIXDATE.exec(value)
  if (m !== null) return build(Number(m[3]), m[2] as string, Number(m[1]), m[4] as string, m[5] as string, m[6] as string)
  m = RFC850.exec(value)
  if (m !== null) {
    // §5.6.7: a two-digit year more than 50 years in the future is the most recent past
    // year with the same last two digits.
    const current = new Date(now).getUTCFullYear()
    let year = current - (current % 100) + Number(m[3])
    if (year > current + 50) year -= 100
    return build(year, m[2] as string, Number(m[1]), m[4] as string, m[5] as string, m[6] as string)
  }
  m = ASCTIME.exec(value)
  if (m !== null) return build(Number(m[6]), m[1] as string, Number((m[2] as string).trim()), m[3] as string, m[4] as string, m[5] as string)
  return null
}

function build(year: number, month: string, day: number, h: string, mi: string, s: string): number | null {
  const mon = MONTHS.indexOf(month.toLowerCase())
  const hours = Number(h)
  const minutes = Number(mi)
  const seconds = Number(s)
  if (day < 1 || day > 31 || hours > 23 || minutes > 59 || seconds > 60) return null
  const ms = Date.UTC(year, mon, day, hours, minutes, seconds)
  // Feb 30 and the like roll over in Date.UTC: refuse them.
  if (new Date(ms).getUTCDate() !== day) return null
  return ms
}
