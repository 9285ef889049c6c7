// Package dashboard is the web page `moor run` serves at / on its listen
// address: every source and stack with its desired and running revision,
// the state and health of every service, held failures with their output,
// drift, and the last runs from the ledger; and, behind the API token,
// the actions "sync now" and "retry".
//
// It is server-rendered html/template, embedded in the binary, and works
// without JavaScript (the page refreshes itself with a meta tag). What the
// repository and the engine say is escaped by html/template.
//
// Access follows /status and the API: on a loopback listen address the
// page may be read without the token, with what containers printed
// withheld; on any other address every page but the login form needs the
// token. The token is given once in the login form; the browser then holds
// a session cookie (HttpOnly, SameSite=Strict), and every action's form
// carries the session's CSRF token too. Sessions live in memory: a restart
// of moor logs everyone out.
//
// The page's data is assembled by Collect, which a JSON API can serve as
// it is.
package dashboard
