'use strict';
// The hapi + @hapi/hawk peer of impl/benches/wrk.sh: a Hawk-authenticated GET /v1/subject
// with a nonce cache (refuses a (key, nonce, ts) seen in the last 60 s) and a signed response
// (Server-Authorization, as Tessera sends). Usage: node server.js HEADERS_FILE COUNT
// Writes COUNT unique Authorization headers (one per line), then prints "port N".

const Fs = require('fs');
const Hapi = require('@hapi/hapi');
const Hawk = require('@hapi/hawk');

const credentials = { id: 'bench', key: 'bench-key-0123456789abcdefghijklmnopqrstuv', algorithm: 'sha256' };

const main = async () => {
    const [file, count] = [process.argv[2], Number(process.argv[3])];
    const server = Hapi.server({ host: '127.0.0.1', port: 0 });
    await server.register(Hawk);
    const seen = new Map();
    setInterval(() => {
        const cutoff = Date.now() / 1000 - 60;
        for (const [k, ts] of seen) {
            if (ts < cutoff) {
                seen.delete(k);
            }
        }
    }, 1000).unref();
    server.auth.strategy('default', 'hawk', {
        getCredentialsFunc: (id) => (id === credentials.id ? credentials : null),
        hawk: {
            nonceFunc: (key, nonce, ts) => {
                const k = `${key}\n${nonce}\n${ts}`;
                if (seen.has(k)) {
                    throw new Error('nonce already used');
                }
                seen.set(k, Number(ts));
            }
        }
    });
    server.auth.default('default');
    server.route({
        method: 'GET',
        path: '/v1/subject',
        handler: (request, h) => {
            const payload = JSON.stringify({ sub: 'bench', email: 'alice@example.org' });
            const header = Hawk.server.header(request.auth.credentials, request.auth.artifacts, {
                payload,
                contentType: 'application/json'
            });
            return h.response(payload).type('application/json').header('server-authorization', header);
        }
    });
    await server.start();
    const port = server.info.port;
    const uri = `http://127.0.0.1:${port}/v1/subject`;
    const out = Fs.openSync(file, 'w');
    const lines = [];
    for (let i = 0; i < count; ++i) {
        lines.push(Hawk.client.header(uri, 'GET', { credentials, nonce: `n${i}x${process.pid}` }).header);
        if (lines.length === 10000) {
            Fs.writeSync(out, lines.join('\n') + '\n');
            lines.length = 0;
        }
    }
    Fs.writeSync(out, lines.join('\n') + (lines.length ? '\n' : ''));
    Fs.closeSync(out);
    console.log(`port ${port}`);
};

main().catch((err) => {
    console.error(err);
    process.exit(1);
});
