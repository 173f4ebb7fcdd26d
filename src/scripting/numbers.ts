/**
 * C's printf("%.17g") and ("%.14g") for Lua numbers: redis.call arguments are formatted with
 * %.17g (script_lua.c), Lua's own tostring uses %.14g.
 */

/** printf("%.<precision>g", n). */
export function formatG(n: number, precision: number): string {
  if (Number.isNaN(n)) return n < 0 ? '-nan' : 'nan';
  if (n === Infinity) return 'inf';
  if (n === -Infinity) return '-inf';
  if (n === 0) return Object.is(n, -0) ? '-0' : '0';
  if (Number.isInteger(n) && Math.abs(n) < 1e15 && precision >= 15) return String(n);
  const exp = Math.floor(Math.log10(Math.abs(n)));
  let s = n.toExponential(precision - 1);
  let e = Number(s.slice(s.indexOf('e') + 1));
  if (e !== exp && e < -4) e = exp;
  if (e < -4 || e >= precision) {
    let [mant, ex] = s.split('e') as [string, string];
    if (mant.includes('.')) mant = mant.replace(/0+$/, '').replace(/\.$/, '');
    const sign = ex.startsWith('-') ? '-' : '+';
    const digits = ex.replace(/^[-+]/, '').padStart(2, '0');
    return `${mant}e${sign}${digits}`;
  }
  s = n.toFixed(Math.max(0, precision - 1 - e));
  if (s.includes('.')) s = s.replace(/0+$/, '').replace(/\.$/, '');
  return s;
}

/** printf("%.17g", n): how Lua numbers passed to redis.call become arguments. */
export function formatG17(n: number): string {
  // -0 is a safe integer that String() prints as "0"; %.17g prints "-0".
  if (Number.isSafeInteger(n) && (n !== 0 || !Object.is(n, -0))) return String(n);
  return formatG(n, 17);
}
