// Cron expressions in words, for the schedule preview: the common shapes;
// anything else is shown as written.
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];
const MONTHS = ['', 'January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const MACROS = { '@hourly': '0 * * * *', '@daily': '0 0 * * *', '@midnight': '0 0 * * *', '@weekly': '0 0 * * 0', '@monthly': '0 0 1 * *', '@yearly': '0 0 1 1 *', '@annually': '0 0 1 1 *' };

/** A cron expression in words, for the common shapes; the expression itself otherwise. */
export function describeCron(expr) {
  const f = (MACROS[expr.trim()] || expr).trim().split(/\s+/);
  if (f.length !== 5) return expr;
  const [min, hour, dom, mon, dow] = f;
  const list = (v, names) => v.split(',').map((p) => p.replace(/^(\d+)-(\d+)$/, (_, a, b) => `${names ? names[+a] : a} to ${names ? names[+b] : b}`)
    .replace(/^(\d+)$/, (_, a) => (names ? names[+a] : a))).join(', ');
  let when;
  if (min === '*' && hour === '*') when = 'every minute';
  else if (/^\*\/\d+$/.test(min) && hour === '*') when = `every ${min.slice(2)} minutes`;
  else if (/^\d+$/.test(min) && hour === '*') when = `at minute ${min} of every hour`;
  else if (/^\d+$/.test(min) && /^\*\/\d+$/.test(hour)) when = `at minute ${min} of every ${hour.slice(2)} hours`;
  else if (/^\d+$/.test(min) && /^\d+(,\d+)*$/.test(hour)) when = `at ${hour.split(',').map((h) => `${h.padStart(2, '0')}:${min.padStart(2, '0')}`).join(', ')}`;
  else return expr;
  const parts = [when];
  if (dom !== '*') parts.push(`on day ${list(dom)} of the month`);
  if (dow !== '*') parts.push(`${dom !== '*' ? 'or ' : ''}on ${list(dow, DAYS)}`);
  if (mon !== '*') parts.push(`in ${list(mon, MONTHS)}`);
  return parts.join(' ');
}

