//! A tiny HTTP server on 127.0.0.1 for tests: answers a bounded number of requests with a fixed
//! status and body, then stops by itself.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub struct Server {
    pub base_url: String,
    handle: Option<JoinHandle<usize>>,
}

impl Server {
    /// Serves `status` + `body` to at most `max_requests` connections, for at most 20 seconds.
    pub fn start(status: u16, body: Vec<u8>, max_requests: usize) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let handle = std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(20);
            let mut served = 0;
            while served < max_requests && Instant::now() < deadline {
                match listener.accept() {
                    Ok((mut stream, _)) => {
                        stream.set_nonblocking(false).unwrap();
                        stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                        let mut request = Vec::new();
                        let mut buf = [0u8; 1024];
                        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                            match stream.read(&mut buf) {
                                Ok(0) | Err(_) => break,
                                Ok(n) => request.extend_from_slice(&buf[..n]),
                            }
                        }
                        let reason = if status == 200 { "OK" } else { "Error" };
                        let head = format!(
                            "HTTP/1.1 {status} {reason}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            body.len()
                        );
                        let _ = stream.write_all(head.as_bytes());
                        let _ = stream.write_all(&body);
                        served += 1;
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
            served
        });
        Server { base_url, handle: Some(handle) }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // The thread ends on its own after its request budget or deadline.
        let _ = self.handle.take();
    }
}
