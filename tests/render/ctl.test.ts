// files/mailstack-ctl in the suite's own root, on a private copy of its /etc (an overlay that vanishes with the
// script): account steps run at once, as the engine runs them, a CA that forgot the stored ACME account (a
// stand-in certbot) gets a new one, and virtual users' dovecot files move out of the Maildir's top into its home.

import { execFileSync } from "child_process";
import { PAM_FILE, pamService } from "../../components/render/access";
import { VHOME } from "../../components/render/dovecot";
import { Result, ROOTFS_TIMEOUT_MS, Sandbox, shq, SUITE } from "./debian";
import { ctlScript } from "../../components/render/ctl";
import { sha256 } from "../../components/remote";
import { HOST_KEYS } from "../../components/schema";

/** The chroot's /etc as an overlay (writes go to a tmpfs), and empty /home, /run and /var/log. */
const PRIVATE = `
mkdir -p "$W/ov" && mount -t tmpfs tmpfs "$W/ov" && mkdir "$W/ov/up" "$W/ov/work"
mount -t overlay overlay -o "lowerdir=$ROOT/etc,upperdir=$W/ov/up,workdir=$W/ov/work" "$ROOT/etc"
hide home; hide run; hide var/log
ctl() { chroot "$ROOT" sh "$I/mailstack-ctl" "$@"; }
`;

describe(`mailstack-ctl on ${SUITE}`, () => {
    let sb: Sandbox;
    beforeAll(() => {
        sb = Sandbox.open();
        sb.write("mailstack-ctl", ctlScript(), 0o755);
    }, ROOTFS_TIMEOUT_MS);
    afterAll(() => sb?.close());

    test("six system-user steps at once, then four lock-user steps at once: every account, list and table is whole", () => {
        const users = ["ursula", "victor", "wanda", "xavier", "yves", "zora"];
        const locked = users.slice(0, 4);
        const r = sb.isolated(`${PRIVATE}
            for u in ${users.join(" ")}; do
                step "add-$u" sh -c "printf 'pw-$u' | chroot $ROOT sh $I/mailstack-ctl system-user $u example.org mail.example.org" &
            done
            wait
            for u in ${locked.join(" ")}; do step "lock-$u" ctl lock-user "$u" example.org mail.example.org & done
            wait
            step created sort "$ROOT/etc/mailstack/created-users"
            step locked cat "$ROOT/etc/mailstack/locked-users"
            step table sort "$ROOT/etc/postfix/locked_recipients"
            touch "$ROOT/etc/postfix/main.cf"  # postmap -q reads one; the stack's put-map made do without
            step query chroot "$ROOT" postmap -q ursula@example.org hash:/etc/postfix/locked_recipients
            step accounts chroot "$ROOT" getent passwd ${users.join(" ")}
            step leftovers sh -c "ls -a $ROOT/etc/postfix $ROOT/etc/mailstack | grep -E '[.](new|mailstack)[.]' || true"
        `, 120_000);
        expect(r.stderr).toBe("");
        for (const u of users) {
            expect([u, sb.step(`add-${u}`)]).toEqual([u, { status: 0, stdout: "created\n", stderr: "" }]);
        }
        for (const u of locked) {
            expect(sb.step(`lock-${u}`)).toMatchObject({ status: 0, stderr: "" });
        }
        expect(sb.step("created").stdout).toBe(users.map((u) => `${u}\n`).join(""));
        expect(sb.step("locked").stdout).toBe(locked.map((u) => `${u}\n`).join(""));
        expect(sb.step("table").stdout.split("\n").filter((l) => l)).toEqual(locked.flatMap((u) =>
            [`${u}@example.org 550 5.1.1 User unknown in local recipient table`,
                `${u}@mail.example.org 550 5.1.1 User unknown in local recipient table`]).sort());
        expect(sb.step("query")).toMatchObject({ stderr: "" });
        expect(sb.step("query").stdout).toBe("550 5.1.1 User unknown in local recipient table\n");
        expect(sb.step("accounts").stdout.split("\n").filter((l) => l)).toHaveLength(users.length);
        expect(sb.step("leftovers").stdout).toBe("");
    });

    // A stand-in certbot: while the account directory of its CA exists, the CA does not know that account (as
    // certbot 2.x reports it: the error in its log, a crash on the console); without one it registers and issues.
    // In mode "fail", every run fails for another reason and leaves the log alone.
    const FAKE_CERTBOT = `#!/bin/sh
echo "$*" >> /etc/certbot-calls
account=/etc/letsencrypt/accounts/acme.test:14000/dir
mkdir -p /var/log/letsencrypt
if [ -f /etc/certbot-fail ]; then
    echo "Some challenges have failed."; echo "Ask for help or search for solutions at https://community.letsencrypt.org." >&2
    exit 1
fi
if [ -d "$account" ]; then
    mv /var/log/letsencrypt/letsencrypt.log /var/log/letsencrypt/letsencrypt.log.1 2>/dev/null
    echo 'acme.messages.Error: urn:ietf:params:acme:error:accountDoesNotExist :: No account exists' > /var/log/letsencrypt/letsencrypt.log
    echo "An unexpected error occurred:" >&2; echo "AttributeError: can't set attribute" >&2
    exit 1
fi
mkdir -p "$account/new-account"
echo "Successfully received certificate."
`;
    const certbot = (setup: string): ReturnType<Sandbox["isolated"]> => {
        sb.write("certbot", FAKE_CERTBOT, 0o755);
        return sb.isolated(`${PRIVATE}
            mount --bind "$W/certbot" "$ROOT/usr/bin/certbot"
            mkdir -p "$ROOT/etc/letsencrypt/accounts/acme.test:14000/dir/old-account" "$ROOT/var/log/letsencrypt"
            ${setup}
            step run ctl certbot certonly --webroot --non-interactive --agree-tos -m admin@example.org \\
                --server https://acme.test:14000/dir --cert-name mailstack -d mail.example.org
            step calls cat "$ROOT/etc/certbot-calls"
            step accounts sh -c "cd $ROOT/etc/letsencrypt && find accounts accounts-lost -mindepth 1 | sort"
        `);
    };

    test("the CA does not know the stored account: moved to accounts-lost, one retry registers a new one, and it says so", () => {
        const r = certbot("");
        expect(r.stderr).toBe("");
        const run = sb.step("run");
        expect(run).toMatchObject({ status: 0, stderr: "" });
        expect(run.stdout).toMatch(/^mailstack-ctl: the CA at https:\/\/acme\.test:14000\/dir does not know the stored ACME account: registering a new one \(the old one is kept in \/etc\/letsencrypt\/accounts-lost\/\d{8}T\d{6}Z\/acme\.test:14000\/dir\)\nSuccessfully received certificate\.\n$/);
        expect(sb.step("calls").stdout.split("\n").filter((l) => l)).toHaveLength(2);
        const tree = sb.step("accounts").stdout;
        expect(tree).toMatch(/^accounts\/acme\.test:14000\/dir\/new-account$/m);
        expect(tree).toMatch(/^accounts-lost\/\d{8}T\d{6}Z\/acme\.test:14000\/dir\/old-account$/m);
        expect(tree).not.toMatch(/^accounts\/.*old-account$/m);
    });

    test("any other failure: no retry, and the error names certbot's reason (an older log's account error does not count)", () => {
        const r = certbot(`touch "$ROOT/etc/certbot-fail"
            echo 'urn:ietf:params:acme:error:accountDoesNotExist' > "$ROOT/var/log/letsencrypt/letsencrypt.log"`);
        expect(r.stderr).toBe("");
        const run = sb.step("run");
        expect(run.status).toBe(1);
        expect(run.stdout).toBe("");
        expect(run.stderr).toBe("mailstack-ctl: certbot failed: Some challenges have failed. " +
            "Ask for help or search for solutions at https://community.letsencrypt.org.\n");
        expect(sb.step("calls").stdout.split("\n").filter((l) => l)).toHaveLength(1);
        expect(sb.step("accounts").stdout).toMatch(/^accounts\/acme\.test:14000\/dir\/old-account$/m);
    });

    // rspamd and fail2ban read files that are written in place, one put at a time. A set that the daemon's own
    // check refuses goes back to what was there before the first of those puts: changed files restored, new ones
    // removed, while the records keep the new hashes (the next preview names them, the next up tries again).
    test("a configuration rspamd or fail2ban refuses is taken back: changed files restored, new ones removed", () => {
        const options = "/etc/rspamd/local.d/options.inc";
        const added = "/etc/rspamd/local.d/mailstack-added.conf";
        const jail = "/etc/fail2ban/jail.d/mailstack.local";
        const r = sb.isolated(`${PRIVATE}
            mkdir -p "$ROOT/var/lib/mailstack" && hide var/lib/mailstack 0700
            touch "$ROOT/var/log/auth.log"  # Debian's sshd jail wants its log
            printf '# as the daemon serves it\n' > "$ROOT${options}"
            step rspamd-before chroot "$ROOT" rspamadm configtest
            step fail2ban-before chroot "$ROOT" fail2ban-client -t
            printf 'dns { nameserver = ' | ctl put ${options} 0644 root:root
            printf '# new\n' | ctl put ${added} 0644 root:root
            printf '[mailstack\nenabled = true\n' | ctl put ${jail} 0644 root:root
            step rspamd ctl rspamd
            step fail2ban ctl fail2ban
            step options cat "$ROOT${options}"
            step left sh -c "ls -d $ROOT${added} $ROOT${jail} 2>/dev/null; ls -A $ROOT/var/lib/mailstack/pending"
            step drifted ctl drifted ${options} ${added} ${jail}
            step rspamd-after chroot "$ROOT" rspamadm configtest
            step fail2ban-after chroot "$ROOT" fail2ban-client -t
        `, 120_000);
        expect(r.stderr).toBe("");
        for (const check of ["rspamd-before", "fail2ban-before", "rspamd-after", "fail2ban-after"]) {
            expect([check, sb.step(check).status]).toEqual([check, 0]);
        }
        for (const daemon of ["rspamd", "fail2ban"]) {
            const run = sb.step(daemon);
            expect(run.status).toBe(1);
            expect(run.stderr).toMatch(new RegExp(`^mailstack-ctl: ${daemon} configuration rejected, the previous ` +
                `files are back in place \\(${daemon} serves them as before\\): \\S`));
        }
        expect(sb.step("options").stdout).toBe("# as the daemon serves it\n");
        expect(sb.step("left").stdout).toBe("");
        expect(sb.step("drifted").stdout).toBe([options, added, jail].map((f) => `D ${f}\n`).join(""));
    });

    // dovecot's PAM service is written in place and read at every system user's login: `pam` checks it against the
    // suite's real PAM modules and /etc/pam.d as libpam reads it, and takes a file it refuses back to the previous one.
    describe("pam:", () => {
        const rendered = pamService({ uidMin: 1000, uidMax: 60000 }, { scope: "all-humans", listed: [] });
        /** Puts each text in turn, `pam` after each (steps put-N, pam-N); then the file, what is pending and left. */
        const puts = (...texts: string[]): void => {
            texts.forEach((t, i) => sb.write(`pam-${i}`, t));
            const r = sb.isolated(`${PRIVATE}
                mkdir -p "$ROOT/var/lib/mailstack" && hide var/lib/mailstack 0700
                for i in ${texts.map((_, i) => i).join(" ")}; do
                    step "put-$i" sh -c "chroot $ROOT sh $I/mailstack-ctl put ${PAM_FILE} 0644 root:root < $W/pam-$i"
                    step "pam-$i" ctl pam
                done
                step file cat "$ROOT${PAM_FILE}"
                step left sh -c "ls -A $ROOT/var/lib/mailstack/pending; ls -A $ROOT/etc/pam.d | grep -F .mailstack. || true"
                step drifted ctl drifted ${PAM_FILE}
            `);
            expect(r.stderr).toBe("");
            texts.forEach((_, i) => expect(sb.step(`put-${i}`)).toEqual({ status: 0, stdout: "", stderr: "" }));
        };
        const checked = { status: 0, stdout: `pam: ${PAM_FILE} checked\n`, stderr: "" };
        const refused = `mailstack-ctl: ${PAM_FILE} refused, the previous file is back in place:\n`;
        const modules = "(/usr)?/lib/x86_64-linux-gnu/security";

        test("pam: the rendered service passes (both scopes), and nothing stays pending", () => {
            const listed = pamService({ uidMin: 1000, uidMax: 60000 }, { scope: "listed", listed: ["frank", "gina"] });
            puts(rendered, listed);
            expect([sb.step("pam-0"), sb.step("pam-1")]).toEqual([checked, checked]);
            expect(sb.step("file").stdout).toBe(listed);
            expect(sb.step("left").stdout).toBe("");
            expect(sb.step("drifted").stdout).toBe("");
        });

        test("pam: a module that is not installed is refused, and the previous file is back", () => {
            puts(rendered, rendered.replace("pam_listfile.so", "pam_listfiles.so"));
            expect(sb.step("pam-0")).toEqual(checked);
            const run = sb.step("pam-1");
            expect(run.status).toBe(1);
            expect(run.stdout).toBe("");
            expect(run.stderr).toMatch(new RegExp(`^${refused}${PAM_FILE}:4: module pam_listfiles\\.so is not in ${modules}\n$`));
            expect(sb.step("file").stdout).toBe(rendered);
            expect(sb.step("left").stdout).toBe("");
            // the record keeps the refused text: the next preview names the file, the next up tries it again
            expect(sb.step("drifted").stdout).toBe(`D ${PAM_FILE}\n`);
        });

        test("pam: every bad line is named with its line number in one message; good forms pass", () => {
            puts(rendered, [
                "# comments, blank lines, a continued line, brackets and a -type line are fine",
                "",
                "autth     required   pam_unix.so",
                "account   sufficent  pam_unix.so",
                "auth      [success=1 default=ignore] pam_unix.so \\",
                "              nullok",
                "session   required   pam_mailstack_nothere.so",
                "@include  common-nothere",
                "password  include    common-password",
                "account   substack   nothere",
                "auth      [sucess=ok] pam_unix.so",
                "-session  optional   pam_mailstack_nothere.so",
                "AUTH      Required   pam_permit.so  # words are case-insensitive",
                "",
            ].join("\n"));
            const run = sb.step("pam-1");
            expect(run.status).toBe(1);
            const [head, ...lines] = run.stderr.trimEnd().split("\n");
            expect(`${head}\n`).toBe(refused);
            expect(lines.map((l) => l.replace(new RegExp(modules), "MODULES"))).toEqual([
                `${PAM_FILE}:3: unknown type "autth"`,
                `${PAM_FILE}:4: unknown control "sufficent"`,
                `${PAM_FILE}:7: module pam_mailstack_nothere.so is not in MODULES`,
                `${PAM_FILE}:8: @include common-nothere: no such file /etc/pam.d/common-nothere`,
                `${PAM_FILE}:10: substack nothere: no such file /etc/pam.d/nothere`,
                `${PAM_FILE}:11: unknown control item "sucess=ok"`,
            ]);
            expect(sb.step("file").stdout).toBe(rendered);
            expect(sb.step("left").stdout).toBe("");
        });

        test("pam: an optional -session line whose module is not installed passes (libpam skips it)", () => {
            const optional = `${rendered}-session  optional   pam_mailstack_nothere.so\n`;
            puts(rendered, optional);
            expect(sb.step("pam-1")).toEqual(checked);
            expect(sb.step("file").stdout).toBe(optional);
            expect(sb.step("left").stdout).toBe("");
        });

        // No file before: PAM would use its `other` service for dovecot, which lets any account in.
        test("pam: a first file that is refused leaves a service that lets nobody in, not none", () => {
            puts("auth required pam_mailstack_nothere.so\n");
            const run = sb.step("pam-0");
            expect(run.status).toBe(1);
            expect(run.stderr).toMatch(new RegExp(`^${refused}${PAM_FILE}:1: module pam_mailstack_nothere\\.so is not in ${modules}\n$`));
            expect(sb.step("file").stdout.split("\n").filter((l) => !l.startsWith("#"))).toEqual(
                ["auth required pam_deny.so", "account required pam_deny.so", ""]);
            expect(sb.step("left").stdout).toBe("");
        });
    });

    // A stand-in certbot for the hostname's lineage: `certonly` issues version 1 with a new ECDSA P-256 key, `renew`
    // the next version with the lineage's current key (--reuse-key: its private key copied to the new version), as
    // certbot's archive/ and live/ do; with /etc/certbot-fail every run fails, naming its reason, and changes nothing.
    const LINEAGE_CERTBOT = `#!/bin/sh
set -e
echo "$*" >> /etc/certbot-calls
if [ -f /etc/certbot-fail ]; then
    echo "Failed to renew certificate mailstack with error: too many certificates already issued"; echo "1 renew failure(s), 0 parse failure(s)" >&2
    exit 1
fi
a=/etc/letsencrypt/archive/mailstack live=/etc/letsencrypt/live/mailstack
mkdir -p $a $live
if [ "$1" = renew ]; then
    n=$(($(readlink $live/cert.pem | sed 's/.*cert\\([0-9]*\\)[.]pem$/\\1/') + 1))
    cp "$(readlink -f $live/privkey.pem)" $a/privkey$n.pem
else
    n=1
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out $a/privkey1.pem
fi
chmod 0600 $a/privkey$n.pem
openssl req -new -x509 -key $a/privkey$n.pem -subj /CN=mail.example.org -days 90 -out $a/cert$n.pem 2>/dev/null
cp $a/cert$n.pem $a/fullchain$n.pem
for k in cert privkey fullchain; do ln -sfn ../../archive/mailstack/$k$n.pem $live/$k.pem; done
echo "Congratulations, all renewals succeeded"
`;

    /** SHA-256 of a PEM's public key (a certificate's or a private key's) as DER SubjectPublicKeyInfo, by the host's
     * openssl: what a TLSA 3 1 1 record of it holds. */
    const opensslSpki = (pem: string): string => execFileSync("sh", ["-c", pem.includes("CERTIFICATE")
        ? "openssl x509 -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum"
        : "openssl pkey -pubout -outform DER | sha256sum"], { input: pem, encoding: "utf8" }).split(" ")[0];

    test("host-key: the next key is made once; the switch renews once with it; a failed renewal keeps the old key; a killed one is finished", () => {
        sb.write("certbot", LINEAGE_CERTBOT, 0o755);
        const live = "$ROOT/etc/letsencrypt/live/mailstack";
        const keys = `$ROOT${HOST_KEYS}`;
        const r = sb.isolated(`${PRIVATE}
            mount --bind "$W/certbot" "$ROOT/usr/bin/certbot"
            in_root certbot certonly >/dev/null 2>&1
            : > "$ROOT/etc/certbot-calls"
            renewals() { grep -c '^renew --cert-name mailstack --force-renewal --reuse-key' "$ROOT/etc/certbot-calls" || true; }
            state() { cat ${live}/cert.pem ${live}/privkey.pem; renewals; }
            step cert0 state
            step next1 ctl host-key mailstack next=k2
            step modes stat -c '%a %u' ${keys} ${keys}/k2.pem
            step k2 cat ${keys}/k2.pem
            step next2 ctl host-key mailstack next=k2
            step k2again cat ${keys}/k2.pem
            touch "$ROOT/etc/certbot-fail"
            step failed ctl host-key mailstack key=k2
            step cert1 state
            rm "$ROOT/etc/certbot-fail"
            step switch ctl host-key mailstack key=k2
            step cert2 state
            step again ctl host-key mailstack key=k2 next=k3
            step cert3 state
            # killed half-way: the key file is k3's already, the certificate still k2's (as switch_key leaves it
            # just before certbot ran)
            priv=$(readlink -f ${live}/privkey.pem)
            cp "$priv" ${keys}/.mailstack.before-switch.pem && cp ${keys}/k3.pem "$priv"
            touch "$ROOT/etc/certbot-fail"
            step killed-failed ctl host-key mailstack key=k3
            step cert4 state
            rm "$ROOT/etc/certbot-fail"
            step killed ctl host-key mailstack key=k3
            step cert5 state
            step leftovers sh -c "ls -A ${keys} ${live} $ROOT/etc/letsencrypt/archive/mailstack | grep -E '[.](new|mailstack)[.][0-9]+$' || true"
        `, 120_000);
        expect(r.stderr).toBe("");
        const state = (name: string): { cert: string; key: string; renewals: number } => {
            const out = sb.step(name).stdout;
            const at = out.indexOf("-----END CERTIFICATE-----\n") + "-----END CERTIFICATE-----\n".length;
            const key = out.slice(at, out.lastIndexOf("-----\n") + 6);
            return { cert: opensslSpki(out.slice(0, at)), key: opensslSpki(key), renewals: Number(out.slice(out.lastIndexOf("-----\n") + 6)) };
        };
        const k2 = opensslSpki(sb.step("k2").stdout);
        const before = state("cert0");
        expect(before.key).toBe(before.cert);
        expect(new Set([before.cert, k2]).size).toBe(2);
        // next=: made once (0600 in a 0700 directory), its hash second; the certificate untouched
        expect(sb.step("next1")).toEqual({ status: 0, stdout: `${before.cert}\n${k2}\n`, stderr: "mailstack-ctl: key k2 made\n" });
        expect(sb.step("modes").stdout).toBe("700 0\n600 0\n");
        expect(sb.step("next2")).toEqual({ status: 0, stdout: `${before.cert}\n${k2}\n`, stderr: "" });
        expect(sb.step("k2again").stdout).toBe(sb.step("k2").stdout);
        // a failed renewal: certbot's reason, and the lineage as it was (its own key back)
        const failed = sb.step("failed");
        expect(failed.status).toBe(1);
        expect(failed.stdout).toBe("");
        expect(failed.stderr).toBe("mailstack-ctl: the renewal of mailstack with key k2 failed, its old key is back: certbot failed: " +
            "Failed to renew certificate mailstack with error: too many certificates already issued 1 renew failure(s), 0 parse failure(s)\n");
        expect(state("cert1")).toEqual({ ...before, renewals: 1 });
        // the switch: one renewal, the certificate holds k2, whose hash comes first
        expect(sb.step("switch")).toEqual({ status: 0, stdout: `${k2}\n`, stderr: "mailstack-ctl: certificate mailstack renewed with key k2\n" });
        expect(state("cert2")).toEqual({ cert: k2, key: k2, renewals: 2 });
        // a second run renews nothing
        const again = sb.step("again");
        expect(again).toMatchObject({ status: 0, stderr: "mailstack-ctl: key k3 made\n" });
        const [first, k3] = again.stdout.split("\n");
        expect(first).toBe(k2);
        expect(k3).toMatch(/^[0-9a-f]{64}$/);
        expect(state("cert3")).toEqual({ cert: k2, key: k2, renewals: 2 });
        // killed between the key and certbot: a failure puts the certificate's key back, the next run finishes it
        expect(sb.step("killed-failed")).toMatchObject({ status: 1, stderr: expect.stringMatching(/its old key is back: certbot failed: Failed to renew/) });
        expect(state("cert4")).toEqual({ cert: k2, key: k2, renewals: 3 });
        expect(sb.step("killed")).toEqual({ status: 0, stdout: `${k3}\n`, stderr: "mailstack-ctl: certificate mailstack renewed with key k3\n" });
        expect(state("cert5")).toEqual({ cert: k3, key: k3, renewals: 4 });
        expect(sb.step("leftovers").stdout).toBe("");
    });

    // A step that re-runs when the script changes names the script's hash (users.ts): the script checks it.
    test("app-passwords-prune: the files of unlisted devices go with their drift records; listed ones and put's temporary files stay", () => {
        const r = sb.isolated(`${PRIVATE}
            for d in phone laptop tablet; do echo "x:{BLF-CRYPT}y::::::device=$d" | ctl put /etc/dovecot/app-passwords/$d 0640 root:dovecot; done
            : > "$ROOT/etc/dovecot/app-passwords/phone.mailstack.123"
            step prune ctl app-passwords-prune phone
            step left ls "$ROOT/etc/dovecot/app-passwords"
            step records ls "$ROOT/etc/mailstack/managed/etc/dovecot/app-passwords"
            step again ctl app-passwords-prune phone
            step none ctl app-passwords-prune
            step empty ls "$ROOT/etc/dovecot/app-passwords"
        `, 60_000);
        expect(r.stderr).toBe("");
        expect(sb.step("prune")).toEqual({ status: 0, stderr: "", stdout: ["laptop", "tablet"].map((d) =>
            `mailstack-ctl: /etc/dovecot/app-passwords/${d} removed: its device is no longer configured\n`).join("") });
        expect(sb.step("left").stdout).toBe("phone\nphone.mailstack.123\n");
        expect(sb.step("records").stdout).toBe("phone\n");
        expect(sb.step("again")).toEqual({ status: 0, stderr: "", stdout: "" });
        expect(sb.step("none").status).toBe(0);
        expect(sb.step("empty").stdout).toBe("phone.mailstack.123\n");
    });

    test("own passwords: a put of the passwd-file takes the users' hashes, drops a gone user's; a reset, once per word, and a rename", () => {
        const table = "bob@example.net:{BLF-CRYPT}$2a$10$generated-bob::::::\ncarol@example.net:{BLF-CRYPT}$2a$10$generated-carol::::::\n";
        const r = sb.isolated(`${PRIVATE}
            mkdir -p "$ROOT/etc/mailstack"
            printf '%s\\n' 'bob@example.net:{BLF-CRYPT}$2y$10$bobs-own' 'gone@example.net:{BLF-CRYPT}$2y$10$gone' 'frank:' \\
                > "$ROOT/etc/mailstack/own-passwords"
            feed() { data=$1; shift; printf '%s' "$data" | ctl "$@"; }
            step put feed ${shq(table)} put /etc/dovecot/users 0640 root:root
            step users cat "$ROOT/etc/dovecot/users"
            step own cat "$ROOT/etc/mailstack/own-passwords"
            step drifted ctl drifted /etc/dovecot/users
            step reset feed '{BLF-CRYPT}$2a$10$generated-bob' password-reset bob@example.net forgot
            step after-reset cat "$ROOT/etc/dovecot/users" "$ROOT/etc/mailstack/own-passwords"
            printf '%s\\n' 'bob@example.net:{BLF-CRYPT}$2y$10$chosen-later' 'frank:' > "$ROOT/etc/mailstack/own-passwords"
            step again feed '{BLF-CRYPT}$2a$10$generated-bob' password-reset bob@example.net forgot
            step rename ctl rename-mailbox bob@example.net robert@example.net
            step renamed cat "$ROOT/etc/mailstack/own-passwords"
            step drifted-after ctl drifted /etc/dovecot/users
        `, 60_000);
        expect(r.stderr).toBe("");
        expect(sb.step("put")).toEqual({ status: 0, stderr: "", stdout: "" });
        // bob's own hash in place of the generated one; carol keeps hers; gone's own entry goes, frank's (a system user) stays
        expect(sb.step("users").stdout).toBe("bob@example.net:{BLF-CRYPT}$2y$10$bobs-own::::::\ncarol@example.net:{BLF-CRYPT}$2a$10$generated-carol::::::\n");
        expect(sb.step("own").stdout).toBe("bob@example.net:{BLF-CRYPT}$2y$10$bobs-own\nfrank:\n");
        // recorded as written: no drift
        expect(sb.step("drifted")).toEqual({ status: 0, stderr: "", stdout: "" });
        expect(sb.step("reset")).toEqual({ status: 0, stderr: "", stdout: "mailstack-ctl: the password of bob@example.net is the generated one again\n" });
        expect(sb.step("after-reset").stdout).toBe(table + "frank:\n");
        // a word already applied (a new server runs the step again) leaves the password he chose since
        expect(sb.step("again").stdout).toBe("mailstack-ctl: the reset of bob@example.net (forgot) was done before: the password stays as it is\n");
        expect(sb.step("rename").status).toBe(0);
        expect(sb.step("renamed").stdout).toBe("robert@example.net:{BLF-CRYPT}$2y$10$chosen-later\nfrank:\n");
        expect(sb.step("drifted-after")).toEqual({ status: 0, stderr: "", stdout: "" });
    });

    test("--sha256: the script runs a verb under its own hash only", () => {
        const own = sha256(ctlScript()).slice(0, 16);
        const ctl = (prefix: string): Result => sb.run(["sh", sb.path("mailstack-ctl"), "--sha256", prefix, "accounts"]);
        expect(ctl(own)).toMatchObject({ status: 0, stdout: expect.stringMatching(/^root:0$/m) });
        expect(ctl("0123456789abcdef")).toMatchObject({ status: 1, stdout: "",
            stderr: "mailstack-ctl: this is not the mailstack-ctl 0123456789abcdef the step was planned for\n" });
    });

    // What rspamd and fail2ban do once their files pass the daemon's own check (serve): the daemon restarts on them
    // and must serve them, else the kept files come back and it must serve those; the step fails either way. Run on
    // the script's own functions in the suite's sh, with a stand-in daemon (START, PROBE) that serves what PROBE says.
    test.each<[string, string, string, number, string, string]>([
        ["serves the new files", "true", "true", 0, "start new\n", "new"],
        ["does not serve them: the old ones are back and serving", "true", '[ "$(cat "$F")" = old ]', 1,
            "start new\nstart old\n", "old|mailstack-ctl: no luck; the previous files are restored and serving"],
        ["does not start on them: the same", '[ "$(cat "$F")" = old ]', "true", 1,
            "start new\nstart old\n", "old|mailstack-ctl: no luck; the previous files are restored and serving"],
        ["serves neither", "true", "false", 1, "start new\nstart old\n",
            "old|mailstack-ctl: no luck; nor with the previous files, restored"],
    ])("serve: %s", (_, starts, serves, status, out, after) => {
        const script = ctlScript();
        const functions = script.slice(0, script.indexOf("\ncmd=${1:-}\n"));
        sb.write("serve.sh", `${functions}
T=$(mktemp -d) F=$T/rspamd/daemon.conf
RSPAMD_DIR=$T/rspamd PENDING=$T/pending
mkdir -p "$RSPAMD_DIR" && echo old > "$F"
keep_previous "$F" && echo new > "$F"
start() { echo "start $(cat "$F")"; ${starts}; }
probe() { ${serves}; }
why() { echo "no luck"; }
trap 'cat "$F" >&2; [ ! -e "$PENDING/rspamd" ] || echo "still pending" >&2; rm -rf "$T"' EXIT
serve rspamd start probe why
`);
        const r = sb.run(["sh", sb.path("serve.sh")]);
        expect({ status: r.status, out: r.stdout, after: r.stderr.trim().split("\n").reverse().join("|") })
            .toEqual({ status, out, after });
    });

    // The stack's own units go live the same way (start UNIT): a unit systemd will not start (here a schedule it
    // refuses) brings back every file of its job, the service and the failure handler beside the timer, and the
    // timer runs on its previous schedule; a unit of another job is not touched. systemctl and journalctl are
    // stand-ins that start the timer only on a schedule they accept.
    test("start: a timer that does not start takes its job's files back and runs on them; a good one stays", () => {
        const script = ctlScript();
        const functions = script.slice(0, script.indexOf("\ncmd=${1:-}\n"));
        sb.write("start.sh", `${functions}
T=$(mktemp -d)
UNIT_DIR=$T/units PENDING=$T/pending LOCKS=$T/locks
mkdir -p "$UNIT_DIR"
for f in mailstack-backup.timer mailstack-backup.service mailstack-backup-failed.service mailstack-doctor.timer; do
    echo "OnCalendar=daily # $f" > "$UNIT_DIR/$f"
done
systemctl() {
    case $1 in
        restart | is-active) grep -q '^OnCalendar=daily' "$UNIT_DIR/mailstack-backup.timer" ;;
        show) echo state ;;
    esac
}
journalctl() { echo "bad-setting"; }
for f in mailstack-backup.timer mailstack-backup.service mailstack-backup-failed.service mailstack-doctor.timer; do
    keep_previous "$UNIT_DIR/$f" && echo "OnCalendar=every full moon" > "$UNIT_DIR/$f"
done
# a drop-in the storage step writes is no job's file
mkdir "$UNIT_DIR/mailstack-backup.service.d" && keep_previous "$UNIT_DIR/mailstack-backup.service.d/mailstack-storage.conf"
trap 'cat "$UNIT_DIR"/*.service "$UNIT_DIR"/*.timer >&2; ls "$PENDING" >&2; rm -rf "$T"' EXIT
start_unit mailstack-backup.timer
`);
        const r = sb.run(["sh", sb.path("start.sh")]);
        expect({ status: r.status, stdout: r.stdout, stderr: r.stderr.split("\n") }).toEqual({ status: 1, stdout: "", stderr: [
            "mailstack-ctl: mailstack-backup.timer does not start (state/state): bad-setting; the previous files are restored and serving",
            "OnCalendar=daily # mailstack-backup-failed.service",
            "OnCalendar=daily # mailstack-backup.service",
            "OnCalendar=daily # mailstack-backup.timer",
            "OnCalendar=every full moon",
            "unit-doctor",
            "",
        ] });
        // the good case: nothing kept afterwards, the new files stay
        const good = sb.run(["sh", "-c", `sed -i 's/every full moon/daily/' ${sb.path("start.sh")} && sh ${sb.path("start.sh")}`]);
        expect({ status: good.status, stderr: good.stderr.split("\n").slice(0, 3) }).toEqual({ status: 0,
            stderr: ["OnCalendar=daily", "OnCalendar=daily", "OnCalendar=daily"] });
    });

    // Mailboxes as the stack left them before the home moved into VHOME: bob with a managesieve script (active link,
    // binary), a vacation reply's duplicate database and the lock directory dovecot had made a folder of; carol with
    // a script at both places (one uploaded since) and a .locks folder that holds a message; dave with nothing.
    test(`vmail-homes ${VHOME}: scripts, active link and duplicate database move into the home, the lock folder goes; twice is a no-op`, () => {
        const r = sb.isolated(`${PRIVATE}
            hide var/mail
            ctl vmail example.net example.com >/dev/null
            b=$ROOT/var/mail/vhosts/example.net/bob c=$ROOT/var/mail/vhosts/example.net/carol d=$ROOT/var/mail/vhosts/example.com/dave
            mkdir -p "$b/cur" "$b/new" "$b/tmp" "$b/.Archive/cur" "$b/sieve/tmp" "$b/.dovecot.lda-dupes.locks/cur" "$b/.dovecot.lda-dupes.locks/new"
            echo 'keep;' > "$b/sieve/away.sieve"; echo bin > "$b/dovecot.svbin"; ln -s sieve/away.sieve "$b/dovecot.sieve"
            echo dupes > "$b/.dovecot.lda-dupes"; echo 'a message' > "$b/cur/1:2,S"; echo 'archived' > "$b/.Archive/cur/2:2,S"
            mkdir -p "$c/sieve" "$c/${VHOME}/sieve" "$c/.dovecot.lda-dupes.locks/cur"
            echo old > "$c/sieve/a.sieve"; echo old > "$c/sieve/b.sieve"; echo new > "$c/${VHOME}/sieve/a.sieve"
            ln -s "/var/mail/vhosts/example.net/carol/sieve/b.sieve" "$c/dovecot.sieve"
            echo 'a message' > "$c/.dovecot.lda-dupes.locks/cur/3:2,"
            mkdir -p "$d/cur"
            chroot "$ROOT" chown -R vmail:vmail /var/mail/vhosts
            step first ctl vmail-homes ${VHOME}
            step second ctl vmail-homes ${VHOME}
            step bad ctl vmail-homes .dovecot
            step tree sh -c "cd $ROOT/var/mail/vhosts && find . -printf '%U %p %l\\n' | sort -k2"
            step carol-a cat "$c/${VHOME}/sieve/a.sieve"
        `);
        expect(r.stderr).toBe("");
        const [bob, carol, dave] = ["example.net/bob", "example.net/carol", "example.com/dave"].map((m) => `/var/mail/vhosts/${m}`);
        expect(sb.step("first")).toEqual({ status: 0, stderr: "", stdout:
            `mailstack-ctl: dovecot's files of ${bob} moved to ${bob}/${VHOME}: sieve/ dovecot.sieve dovecot.svbin .dovecot.lda-dupes .dovecot.lda-dupes.locks(removed)\n` +
            `mailstack-ctl: ${carol}/.dovecot.lda-dupes.locks holds messages: kept (the folder dovecot/lda-dupes/locks of its user)\n` +
            `mailstack-ctl: dovecot's files of ${carol} moved to ${carol}/${VHOME}: sieve/ dovecot.sieve\n` });
        expect(sb.step("second")).toEqual({ status: 0, stderr: "",
            stdout: `mailstack-ctl: ${carol}/.dovecot.lda-dupes.locks holds messages: kept (the folder dovecot/lda-dupes/locks of its user)\n` });
        expect(sb.step("bad")).toMatchObject({ status: 1, stderr: "mailstack-ctl: vmail-homes: DIR must be a plain name without a leading dot, not '.dovecot'\n" });
        const tree = sb.step("tree").stdout.trim().split("\n").map((l) => l.trim());
        const rel = (p: string): string => "./" + p.replace("/var/mail/vhosts/", "");
        // every entry vmail's (5000, the uid ctl vmail gives it)
        expect(tree).toEqual([
            "5000 .",
            "5000 ./example.com",
            `5000 ${rel(dave)}`,
            `5000 ${rel(dave)}/cur`,
            `5000 ${rel(dave)}/${VHOME}`,
            "5000 ./example.net",
            `5000 ${rel(bob)}`,
            `5000 ${rel(bob)}/.Archive`,
            `5000 ${rel(bob)}/.Archive/cur`,
            `5000 ${rel(bob)}/.Archive/cur/2:2,S`,
            `5000 ${rel(bob)}/cur`,
            `5000 ${rel(bob)}/cur/1:2,S`,
            `5000 ${rel(bob)}/${VHOME}`,
            `5000 ${rel(bob)}/${VHOME}/.dovecot.lda-dupes`,
            `5000 ${rel(bob)}/${VHOME}/dovecot.sieve sieve/away.sieve`,
            `5000 ${rel(bob)}/${VHOME}/dovecot.svbin`,
            `5000 ${rel(bob)}/${VHOME}/sieve`,
            `5000 ${rel(bob)}/${VHOME}/sieve/away.sieve`,
            `5000 ${rel(bob)}/${VHOME}/sieve/tmp`,
            `5000 ${rel(bob)}/new`,
            `5000 ${rel(bob)}/tmp`,
            `5000 ${rel(carol)}`,
            `5000 ${rel(carol)}/.dovecot.lda-dupes.locks`,
            `5000 ${rel(carol)}/.dovecot.lda-dupes.locks/cur`,
            `5000 ${rel(carol)}/.dovecot.lda-dupes.locks/cur/3:2,`,
            `5000 ${rel(carol)}/${VHOME}`,
            `5000 ${rel(carol)}/${VHOME}/dovecot.sieve sieve/b.sieve`,
            `5000 ${rel(carol)}/${VHOME}/sieve`,
            `5000 ${rel(carol)}/${VHOME}/sieve/a.sieve`,
            `5000 ${rel(carol)}/${VHOME}/sieve/b.sieve`,
        ]);
        // the script uploaded at the new place wins over the old one of the same name
        expect(sb.step("carol-a").stdout).toBe("new\n");
    });
});
