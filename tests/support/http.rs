//! A minimal HTTP/1.1 client for the one or two setup calls the emulators need.

use std::io::{Read, Write};
use std::net::TcpStream;

/// Sends `method path` with `headers` and an empty body to `127.0.0.1:port`; returns the status
/// code and the whole response text.
pub(crate) fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(String, String)],
) -> (u16, String) {
    let mut stream =
        TcpStream::connect(("127.0.0.1", port)).expect("cannot connect to the emulator");
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: 0\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    stream
        .write_all(req.as_bytes())
        .expect("cannot send the request");
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, response)
}
