// Where the stack's own systemd units live: the unit files of every component, and mailstack-ctl's rule that the
// units of one job (mailstack-JOB*) are written, started and taken back together (components/render/ctl.ts).

export const UNIT_DIR = "/etc/systemd/system";

/** The path of a unit file the stack writes. */
export const unitFile = (name: string): string => `${UNIT_DIR}/${name}`;
