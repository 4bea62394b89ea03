package rpc

import "errors"

var (
	// ErrProtocol marks a message that breaks the RPC conversation: one
	// that does not decode, is too long, or comes out of order.
	ErrProtocol = errors.New("rpc protocol error")
	// ErrNotifyFailed: the client answered a notification with
	// notify_success false (its hook failed), which fails the request.
	ErrNotifyFailed = errors.New("the RPC client reported a failure of its notification hook")
)
