/** Where mailstack-ctl is installed: apart from render/ctl.ts, which every render's paths flow into, so that a
 * render may name the script without an import cycle. */
export const CTL = "/usr/local/sbin/mailstack-ctl";
