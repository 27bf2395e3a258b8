//! A TCP proxy for the tests that put the lake at a distance: it adds a
//! one-way delay to every byte in both directions (so a round trip costs
//! twice that, however much data flows), and it can stall: stop forwarding
//! altogether, holding every connection open and silent, as a network that
//! drops packets does, until it resumes.
//!
//! Each direction of a connection has a reader and a writer thread: the
//! reader stamps each chunk with the time it may go, the writer sends it
//! then. Throughput is not limited, only latency added.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A proxy to one upstream address, on a loopback port of its own.
/// Stopped when dropped (listening and forwarding both).
pub struct Proxy {
    addr: SocketAddr,
    state: Arc<State>,
}

#[derive(Default)]
struct State {
    /// Added to each direction, in microseconds.
    delay_us: AtomicU64,
    stalled: AtomicBool,
    stopped: AtomicBool,
}

impl State {
    fn delay(&self) -> Duration {
        Duration::from_micros(self.delay_us.load(Ordering::Relaxed))
    }

    /// Waits while stalled; `false` once the proxy is stopped.
    fn wait_while_stalled(&self) -> bool {
        while self.stalled.load(Ordering::Relaxed) {
            if self.stopped.load(Ordering::Relaxed) {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        !self.stopped.load(Ordering::Relaxed)
    }
}

impl Proxy {
    /// Listens on a free loopback port and forwards to `upstream`.
    pub fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind(("127.0.0.1", 0)).expect("binding the proxy");
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State::default());
        let accepting = state.clone();
        std::thread::spawn(move || accept(&listener, upstream, &accepting));
        Proxy { addr, state }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Sets the round-trip time it adds (half of it each way).
    pub fn set_rtt(&self, rtt: Duration) {
        self.state.delay_us.store((rtt / 2).as_micros() as u64, Ordering::Relaxed);
    }

    /// Stops forwarding: connections stay open, and nothing goes through
    /// either way (new ones are accepted and held too).
    pub fn stall(&self) {
        self.state.stalled.store(true, Ordering::Relaxed);
    }

    /// Forwards again, what was held first.
    pub fn resume(&self) {
        self.state.stalled.store(false, Ordering::Relaxed);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.state.stopped.store(true, Ordering::Relaxed);
        // Wakes the accept loop so it sees the stop.
        let _ = TcpStream::connect(self.addr);
    }
}

fn accept(listener: &TcpListener, upstream: SocketAddr, state: &Arc<State>) {
    for client in listener.incoming() {
        if state.stopped.load(Ordering::Relaxed) {
            return;
        }
        let Ok(client) = client else { continue };
        let state = state.clone();
        std::thread::spawn(move || {
            // A stalled network does not connect anyone either.
            if !state.wait_while_stalled() {
                return;
            }
            let Ok(server) = TcpStream::connect(upstream) else {
                let _ = client.shutdown(Shutdown::Both);
                return;
            };
            let _ = (client.set_nodelay(true), server.set_nodelay(true));
            let pipes = [(client.try_clone(), server.try_clone()), (server.try_clone(), client.try_clone())];
            for (from, to) in pipes {
                if let (Ok(from), Ok(to)) = (from, to) {
                    pipe(from, to, state.clone());
                }
            }
        });
    }
}

/// Bytes read, and when they may go on.
type Chunk = (Instant, Vec<u8>);

/// One direction: a reader that stamps chunks, a writer that sends each
/// when its time comes (and not while stalled).
fn pipe(mut from: TcpStream, mut to: TcpStream, state: Arc<State>) {
    let (chunks, pending) = crossbeam_channel::unbounded::<Chunk>();
    let reader_state = state.clone();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 << 10];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if reader_state.stopped.load(Ordering::Relaxed) {
                        break;
                    }
                    let due = Instant::now() + reader_state.delay();
                    if chunks.send((due, buf[..n].to_vec())).is_err() {
                        break;
                    }
                }
            }
        }
        // Dropping `chunks` ends the writer once it sent what was read.
    });
    std::thread::spawn(move || {
        for (due, chunk) in pending.iter() {
            if !state.wait_while_stalled() {
                break;
            }
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
            if to.write_all(&chunk).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An upstream that echoes what it gets.
    fn echo_server() -> SocketAddr {
        let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                std::thread::spawn(move || {
                    let mut stream = stream;
                    let mut reader = stream.try_clone().unwrap();
                    let _ = std::io::copy(&mut reader, &mut stream);
                });
            }
        });
        addr
    }

    fn roundtrip(stream: &mut TcpStream, message: &[u8]) -> std::io::Result<Vec<u8>> {
        stream.write_all(message)?;
        let mut back = vec![0u8; message.len()];
        stream.read_exact(&mut back)?;
        Ok(back)
    }

    #[test]
    fn forwards_both_ways_and_a_stall_holds_everything_until_resumed() {
        let proxy = Proxy::start(echo_server());
        let mut stream = TcpStream::connect(("127.0.0.1", proxy.port())).unwrap();
        let big: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
        assert_eq!(roundtrip(&mut stream, &big).unwrap(), big, "every byte, in order");

        proxy.set_rtt(Duration::from_millis(40));
        assert_eq!(roundtrip(&mut stream, b"delayed").unwrap(), b"delayed");

        proxy.stall();
        stream.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
        let err = roundtrip(&mut stream, b"held").unwrap_err();
        assert!(matches!(err.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut), "{err}");
        // A new connection is held as well.
        let mut late = TcpStream::connect(("127.0.0.1", proxy.port())).unwrap();
        late.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
        assert!(roundtrip(&mut late, b"x").is_err(), "nothing goes through a stalled proxy");

        proxy.resume();
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut back = [0u8; 4];
        stream.read_exact(&mut back).unwrap();
        assert_eq!(&back, b"held", "what was held goes through once resumed");
        late.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut back = [0u8; 1];
        late.read_exact(&mut back).unwrap();
        assert_eq!(&back, b"x");
    }
}
