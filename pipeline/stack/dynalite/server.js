'use strict'
// The embedded stack's DynamoDB-API server: dynalite's own cli.js, with one fix.
//
// dynalite's HTTP handler rethrows a request stream's 'error' (index.js:
// `req.on('error', function (err) { throw err })`), so a client that disconnects in the middle
// of sending a request (a SIGKILLed mirror, say) ends the whole server with ECONNRESET. Here
// such an error only abandons that one request: its body never arrived, so nothing was written.
const argv = require('minimist')(process.argv.slice(2))
const dynalite = require('dynalite')

const server = dynalite(argv)
server.prependListener('request', (req) => {
  const on = req.on
  req.on = function (event, listener) {
    if (event !== 'error') return on.call(this, event, listener)
    return on.call(this, event, (err) => {
      console.error('a client went away in the middle of a request: %s', err.message)
    })
  }
})
server.listen(argv.port || 4567, argv.host || undefined, () => {
  console.log('Dynalite listening at: http://%s:%s', argv.host || 'localhost', server.address().port)
})
