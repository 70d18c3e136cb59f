// The schedule check of preview (components/calendar.ts) against the judge it stands in for: the suite's own
// `systemd-analyze calendar`, on expressions systemd accepts and on near misses it refuses.

import { isCalendar } from "../../components/calendar";
import { ROOTFS_TIMEOUT_MS, Sandbox, SUITE } from "./debian";

export const EXPRESSIONS = [
    // shorthands, any case, with a zone
    "minutely", "hourly", "daily", "weekly", "monthly", "yearly", "annually", "quarterly", "semiannually",
    "semi-annually", "DAILY", "daily UTC", "weekly Europe/Berlin", "fortnightly", "dayly", "",
    // weekdays
    "Mon", "mon", "Monday", "Mon,Fri", "Mon..Fri", "Mon-Fri", "Sat,Sun 12:00", "Fri..Mon", "Mond", "Mon..", "Mon,",
    "Mon.Fri", "Mon 03:15", "Mon *-*-* 03:15:00", "Tue..Thu,Sat *-*-* 01:00", "every tuesday-ish",
    // dates
    "*-*-* 03:15:00", "*-*-*", "2026-12-06", "26-12-06", "12-06", "*-12-06 00:00", "*-02~03", "*-*~01", "*-02~03~04",
    "1969-01-01", "2200-01-01", "2199-12-31", "*-13-01", "*-00-01", "*-01-32", "*-01-00", "*-1,3,5-1", "*-1..3-1",
    "*-3..1-1", "*-*-1/2", "*-*-1/0", "*-*-* 03:15:00 UTC", "*-*-* 03:15:00 Mars/Olympus", "*-*-*-*", "*--1",
    // times
    "03:15", "3:5", "03:15:00", "03:15:00.5", "03:15:59.999", "03:15:60", "24:00", "23:59", "00:60", "*:0/15",
    "*:*:*", "*:*", "0/6:00", "00..23/6:00", "12:00:00:00", "12", "12:", ":30", "03:15 ", " 03:15", "03:15.5",
    "*/2:00", "1,2,3:00", "1,,2:00", "@1700000000", "@17x", "@",
    // shell and separators that are not the grammar
    "daily; rm -rf /", "daily\nhourly", "Mon  03:15", "Mon, Tue 03:15", "*-*-*  03:15",
];

describe(`backup.schedule against systemd-analyze calendar on ${SUITE}`, () => {
    let sb: Sandbox;
    beforeAll(() => {
        sb = Sandbox.open();
    }, ROOTFS_TIMEOUT_MS);
    afterAll(() => sb?.close());

    test(`${EXPRESSIONS.length} expressions judged as systemd judges them`, () => {
        // one run for all: each line is one expression (none of them holds a newline but the one refused below)
        const lines = EXPRESSIONS.filter((e) => !e.includes("\n"));
        const r = sb.run(["sh", "-c",
            "while IFS= read -r e; do if systemd-analyze calendar -- \"$e\" >/dev/null 2>&1; then echo ok; else echo bad; fi; done"],
            lines.join("\n") + "\n");
        expect(r.status).toBe(0);
        const systemd = r.stdout.trim().split("\n");
        expect(systemd.length).toBe(lines.length);
        const differ = lines.filter((e, i) => (systemd[i] === "ok") !== isCalendar(e))
            .map((e) => `${JSON.stringify(e)}: systemd ${systemd[lines.indexOf(e)]}`);
        expect(differ).toEqual([]);
        expect(isCalendar("daily\nhourly")).toBe(false);
    });
});
