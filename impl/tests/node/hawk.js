'use strict';

// Runs one operation of the npm `hawk` package for impl/tests/hawk_node_interop.rs.
// Reads a JSON request on stdin, writes a JSON result on stdout.
// Time is fixed by the request (`now`, unix seconds) so results are deterministic.

const Hawk = require('hawk');

const readStdin = () => new Promise((resolve, reject) => {
    let data = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (chunk) => { data += chunk; });
    process.stdin.on('end', () => resolve(data));
    process.stdin.on('error', reject);
});

const fixClock = (now) => {
    if (typeof now === 'number') {
        Hawk.utils.setTimeFunction(() => now * 1000);
    }
};

const failure = (err) => ({
    ok: false,
    message: err.message,
    wwwAuthenticate: (err.output && err.output.headers && err.output.headers['WWW-Authenticate']) || null
});

const ops = {
    // Hawk.client.header(uri, method, options) -> { header, artifacts }
    client_header(req) {
        const { header, artifacts } = Hawk.client.header(req.uri, req.method, req.options);
        return { ok: true, header, artifacts };
    },

    // Hawk.server.authenticate(fakeRequest, credentialsFunc, options)
    async server_authenticate(req) {
        const credentialsFunc = (id) => (id === req.credentials.id ? req.credentials : null);
        try {
            const { artifacts } = await Hawk.server.authenticate(req.request, credentialsFunc, req.options || {});
            return { ok: true, artifacts };
        }
        catch (err) {
            return failure(err);
        }
    },

    // Hawk.server.header(credentials, artifacts, options) -> Server-Authorization value
    server_header(req) {
        return { ok: true, header: Hawk.server.header(req.credentials, req.artifacts, req.options || {}) };
    },

    // Hawk.client.authenticate(res, credentials, artifacts, options)
    client_authenticate(req) {
        try {
            const { headers } = Hawk.client.authenticate(req.response, req.credentials, req.artifacts, req.options || {});
            return { ok: true, headers };
        }
        catch (err) {
            return failure(err);
        }
    },

    normalized_string(req) {
        return { ok: true, value: Hawk.crypto.generateNormalizedString(req.type, req.options) };
    },

    payload_hash(req) {
        return { ok: true, value: Hawk.crypto.calculatePayloadHash(req.payload, 'sha256', req.contentType) };
    }
};

const main = async () => {
    const req = JSON.parse(await readStdin());
    fixClock(req.now);
    const op = ops[req.op];
    if (!op) {
        throw new Error('unknown op ' + req.op);
    }
    const result = await op(req);
    result.hawkVersion = require('hawk/package.json').version;
    process.stdout.write(JSON.stringify(result));
};

main().catch((err) => {
    process.stderr.write(String(err && err.stack || err) + '\n');
    process.exit(2);
});
