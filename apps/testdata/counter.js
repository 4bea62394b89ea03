// A node http server on the address and port of its arguments that
// answers each request with the next count, keeping idle keep-alive
// connections open (node closes them after 5 s by default).
const http = require('http');
let n = 0;
const srv = http.createServer((req, res) => {
  n++;
  res.setHeader('Content-Type', 'text/plain');
  res.end(n + '\n');
});
srv.keepAliveTimeout = 0;
srv.headersTimeout = 0;
srv.requestTimeout = 0;
srv.listen(Number(process.argv[3]), process.argv[2]);
