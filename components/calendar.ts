// systemd's OnCalendar grammar (systemd.time(7), calendarspec.c), checked at preview: a schedule systemd would
// refuse leaves the timer "bad-setting" and the backups never run, long after `up` said it succeeded.
// tests/render/calendar.test.ts compares this with `systemd-analyze calendar` of each Debian suite.

const SHORTHANDS = new Set([
    "minutely", "hourly", "daily", "weekly", "monthly", "yearly", "annually", "quarterly",
    "semiannually", "semi-annually", "biannually", "bi-annually",
]);

/** Longest first: "Monday" must be tried before "Mon". */
const DAYS: [string, number][] = [
    ["monday", 0], ["mon", 0], ["tuesday", 1], ["tue", 1], ["wednesday", 2], ["wed", 2], ["thursday", 3], ["thu", 3],
    ["friday", 4], ["fri", 4], ["saturday", 5], ["sat", 5], ["sunday", 6], ["sun", 6],
];

interface Component {
    start: number;
    stop: number;
    repeat: number;
}

class Invalid extends Error {}

/** A cursor over the expression, with the parsers of calendarspec.c. */
class Reader {
    constructor(private readonly s: string, public i = 0) {}

    peek(): string {
        return this.s[this.i] ?? "";
    }

    at(k: number): string {
        return this.s[this.i + k] ?? "";
    }

    rest(): string {
        return this.s.slice(this.i);
    }

    skipSpaces(): void {
        while (this.peek() === " ") {
            this.i++;
        }
    }

    /** A decimal number; seconds may have a fraction ("5.25"), ".." being a range instead. */
    decimal(seconds: boolean): number {
        const m = /^[0-9]+/.exec(this.rest());
        if (m === null) {
            throw new Invalid();
        }
        this.i += m[0].length;
        let value = Number(m[0]);
        if (seconds) {
            value *= 1e6;
            if (this.peek() === "." && this.at(1) !== ".") {
                this.i++;
                const f = /^[0-9]+/.exec(this.rest());
                if (f === null) {
                    throw new Invalid();
                }
                this.i += f[0].length;
                value += Math.round(Number(`0.${f[0]}`) * 1e6);
            }
        }
        if (value > 2147483647) {
            throw new Invalid();
        }
        return value;
    }

    component(seconds: boolean): Component {
        const start = this.decimal(seconds);
        let stop = -1;
        let repeat = 0;
        if (this.peek() === "." && this.at(1) === ".") {
            this.i += 2;
            stop = this.decimal(seconds);
            repeat = seconds ? 1e6 : 1;
        }
        if (this.peek() === "/") {
            this.i++;
            repeat = this.decimal(seconds);
            if (repeat === 0) {
                throw new Invalid();
            }
        }
        if (!["", " ", ",", "-", "~", ":"].includes(this.peek())) {
            throw new Invalid();
        }
        return { start, stop, repeat };
    }

    /** `*` (every value: no chain) or a comma list of components. */
    chain(seconds: boolean): Component[] | undefined {
        if (this.peek() === "*") {
            this.i++;
            return seconds ? [{ start: 0, stop: -1, repeat: 1e6 }] : undefined;
        }
        const list = [this.component(seconds)];
        while (this.peek() === ",") {
            this.i++;
            list.push(this.component(seconds));
        }
        return list;
    }

    weekdays(): void {
        let from = -1;
        let first = true;
        for (;;) {
            const lower = this.rest().toLowerCase();
            const day = DAYS.find(([name]) => lower.startsWith(name));
            if (day === undefined) {
                if (first) {
                    return;
                }
                throw new Invalid();
            }
            const [name, nr] = day;
            if (!["", "-", ".", ",", " "].includes(this.at(name.length))) {
                throw new Invalid();
            }
            if (from >= 0 && from > nr) {
                throw new Invalid();
            }
            this.i += name.length;
            if (this.peek() === "") {
                return;
            }
            if (this.peek() === " ") {
                this.skipSpaces();
                return;
            }
            if (this.peek() === ".") {
                if (from >= 0 || this.at(1) !== ".") {
                    throw new Invalid();
                }
                from = nr;
                this.i += 2;
            } else if (this.peek() === "-") {
                if (from >= 0) {
                    throw new Invalid();
                }
                from = nr;
                this.i++;
            } else if (this.peek() === ",") {
                from = -1;
                this.i++;
            }
            if (this.peek() === "" || this.peek() === " ") {
                this.skipSpaces();
                if (from >= 0) {
                    throw new Invalid();
                }
                return;
            }
            first = false;
        }
    }
}

interface Spec {
    year?: Component[];
    month?: Component[];
    day?: Component[];
    hour?: Component[];
    minute?: Component[];
    second?: Component[];
}

function date(r: Reader, spec: Spec): void {
    if (r.peek() === "") {
        return;
    }
    const start = r.i;
    const first = r.chain(false);
    if (r.peek() === "" || r.peek() === ":") {
        // a time, not a date
        r.i = start;
        return;
    }
    let endOfMonth = r.peek() === "~";
    if (!endOfMonth && r.peek() !== "-") {
        throw new Invalid();
    }
    r.i++;
    const second = r.chain(false);
    if (r.peek() === "" || r.peek() === " ") {
        r.skipSpaces();
        spec.month = first;
        spec.day = second;
        return;
    }
    if (endOfMonth) {
        throw new Invalid();
    }
    endOfMonth = r.peek() === "~";
    if (!endOfMonth && r.peek() !== "-") {
        throw new Invalid();
    }
    r.i++;
    const third = r.chain(false);
    if (r.peek() !== "" && r.peek() !== " ") {
        throw new Invalid();
    }
    r.skipSpaces();
    spec.year = first;
    spec.month = second;
    spec.day = third;
}

function time(r: Reader, spec: Spec): void {
    if (r.peek() === "") {
        return;
    }
    spec.hour = r.chain(false);
    if (r.peek() !== ":") {
        throw new Invalid();
    }
    r.i++;
    spec.minute = r.chain(false);
    if (r.peek() === "") {
        return;
    }
    if (r.peek() !== ":") {
        throw new Invalid();
    }
    r.i++;
    spec.second = r.chain(true);
    if (r.peek() !== "") {
        throw new Invalid();
    }
}

/** Two-digit years as systemd reads them: 12 is 2012, 89 is 1989. */
function fixYear(n: number): number {
    return n >= 0 && n < 70 ? n + 2000 : n >= 70 && n < 100 ? n + 1900 : n;
}

function valid(chain: Component[] | undefined, from: number, to: number): boolean {
    return (chain ?? []).every((c) => c.start >= from && c.start <= to && c.repeat <= to - from &&
        (c.stop < 0 || (c.stop >= from && c.stop <= to && c.start <= c.stop && c.repeat <= c.stop - c.start)));
}

/** The zone names systemd would look up in /usr/share/zoneinfo. */
function isTimeZone(name: string): boolean {
    if (!/^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/.test(name)) {
        return false;
    }
    try {
        new Intl.DateTimeFormat("en", { timeZone: name });
        return true;
    } catch {
        return false;
    }
}

/** Whether systemd accepts EXPR as an OnCalendar= value. */
export function isCalendar(expr: string): boolean {
    let s = expr;
    if (/ utc$/i.test(s)) {
        s = s.slice(0, -4);
    } else {
        const space = s.lastIndexOf(" ");
        if (space >= 0 && isTimeZone(s.slice(space + 1))) {
            s = s.slice(0, space);
        }
    }
    if (s === "") {
        return false;
    }
    if (SHORTHANDS.has(s.toLowerCase())) {
        return true;
    }
    if (s.startsWith("@")) {
        return /^@[0-9]+$/.test(s);
    }
    const spec: Spec = {};
    const r = new Reader(s);
    try {
        r.weekdays();
        date(r, spec);
        time(r, spec);
    } catch (e) {
        if (e instanceof Invalid) {
            return false;
        }
        throw e;
    }
    if (r.peek() !== "") {
        return false;
    }
    const year = spec.year?.map((c) => ({ ...c, start: fixYear(c.start), stop: fixYear(c.stop) }));
    return valid(year, 1970, 2199) && valid(spec.month, 1, 12) && valid(spec.day, 1, 31) &&
        valid(spec.hour, 0, 23) && valid(spec.minute, 0, 59) && valid(spec.second, 0, 60e6 - 1);
}
