//! The canonical binary encoding of a [`Value`]: MessagePack, written the same way from
//! every language (the shortest form of each integer, floats always as float64, maps in
//! their own key order), so that Python and Node write byte-identical entries for equal
//! values. MessagePack carries binary, which JSON cannot, and every language has a reader.
//!
//! The reader is strict: extension types, maps with non-string keys, invalid UTF-8,
//! trailing bytes and nesting deeper than [`MAX_DEPTH`] are refused, never guessed at.

use std::fmt;

use super::Value;

/// Deepest nesting the reader accepts (and the writer's callers are held to).
pub const MAX_DEPTH: usize = 128;

/// Why bytes are not a value this codec wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodecError(pub String);

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not a flightcache value: {}", self.0)
    }
}

impl std::error::Error for CodecError {}

pub fn encode(v: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(16);
    encode_into(v, &mut out);
    out
}

pub fn encode_into(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Null => out.push(0xc0),
        Value::Bool(false) => out.push(0xc2),
        Value::Bool(true) => out.push(0xc3),
        Value::Int(n) => encode_int(*n, out),
        Value::Float(f) => {
            out.push(0xcb);
            out.extend_from_slice(&f.to_bits().to_be_bytes());
        }
        Value::Str(s) => {
            let n = s.len();
            if n < 32 {
                out.push(0xa0 | n as u8);
            } else if n <= u8::MAX as usize {
                out.push(0xd9);
                out.push(n as u8);
            } else if n <= u16::MAX as usize {
                out.push(0xda);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            } else {
                out.push(0xdb);
                out.extend_from_slice(&(n as u32).to_be_bytes());
            }
            out.extend_from_slice(s.as_bytes());
        }
        Value::Bytes(b) => {
            let n = b.len();
            if n <= u8::MAX as usize {
                out.push(0xc4);
                out.push(n as u8);
            } else if n <= u16::MAX as usize {
                out.push(0xc5);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            } else {
                out.push(0xc6);
                out.extend_from_slice(&(n as u32).to_be_bytes());
            }
            out.extend_from_slice(b);
        }
        Value::List(items) => {
            header(items.len(), 0x90, 0xdc, 0xdd, out);
            for x in items {
                encode_into(x, out);
            }
        }
        Value::Map(pairs) => {
            header(pairs.len(), 0x80, 0xde, 0xdf, out);
            for (k, x) in pairs {
                encode_into(&Value::Str(k.clone()), out);
                encode_into(x, out);
            }
        }
    }
}

fn header(n: usize, fix: u8, m16: u8, m32: u8, out: &mut Vec<u8>) {
    if n < 16 {
        out.push(fix | n as u8);
    } else if n <= u16::MAX as usize {
        out.push(m16);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(m32);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

fn encode_int(n: i64, out: &mut Vec<u8>) {
    if (0..128).contains(&n) {
        out.push(n as u8);
    } else if (-32..0).contains(&n) {
        out.push(n as i8 as u8);
    } else if n >= 0 {
        if n <= u8::MAX as i64 {
            out.push(0xcc);
            out.push(n as u8);
        } else if n <= u16::MAX as i64 {
            out.push(0xcd);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        } else if n <= u32::MAX as i64 {
            out.push(0xce);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    } else if n >= i8::MIN as i64 {
        out.push(0xd0);
        out.push(n as i8 as u8);
    } else if n >= i16::MIN as i64 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= i32::MIN as i64 {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// Reads one whole value; anything after it is an error.
pub fn decode(bytes: &[u8]) -> Result<Value, CodecError> {
    let mut r = Reader { b: bytes, at: 0 };
    let v = r.value(0)?;
    if r.at != bytes.len() {
        return Err(CodecError(format!(
            "{} bytes after the value",
            bytes.len() - r.at
        )));
    }
    Ok(v)
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], CodecError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.b.len())
            .ok_or_else(|| CodecError("truncated".into()))?;
        let s = &self.b[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn byte(&mut self) -> Result<u8, CodecError> {
        Ok(self.take(1)?[0])
    }

    fn be<const N: usize>(&mut self) -> Result<[u8; N], CodecError> {
        Ok(self.take(N)?.try_into().expect("N bytes"))
    }

    fn len(&mut self, width: usize) -> Result<usize, CodecError> {
        Ok(match width {
            1 => self.byte()? as usize,
            2 => u16::from_be_bytes(self.be()?) as usize,
            _ => u32::from_be_bytes(self.be()?) as usize,
        })
    }

    fn string(&mut self, n: usize) -> Result<String, CodecError> {
        let raw = self.take(n)?;
        std::str::from_utf8(raw)
            .map(str::to_owned)
            .map_err(|_| CodecError("a string is not valid UTF-8".into()))
    }

    fn value(&mut self, depth: usize) -> Result<Value, CodecError> {
        if depth > MAX_DEPTH {
            return Err(CodecError(format!("nested deeper than {MAX_DEPTH}")));
        }
        let t = self.byte()?;
        Ok(match t {
            0x00..=0x7f => Value::Int(t as i64),
            0xe0..=0xff => Value::Int(t as i8 as i64),
            0xc0 => Value::Null,
            0xc2 => Value::Bool(false),
            0xc3 => Value::Bool(true),
            0xcc => Value::Int(self.byte()? as i64),
            0xcd => Value::Int(u16::from_be_bytes(self.be()?) as i64),
            0xce => Value::Int(u32::from_be_bytes(self.be()?) as i64),
            0xcf => {
                let n = u64::from_be_bytes(self.be()?);
                Value::Int(
                    i64::try_from(n)
                        .map_err(|_| CodecError(format!("the integer {n} is beyond 64 bits")))?,
                )
            }
            0xd0 => Value::Int(self.byte()? as i8 as i64),
            0xd1 => Value::Int(i16::from_be_bytes(self.be()?) as i64),
            0xd2 => Value::Int(i32::from_be_bytes(self.be()?) as i64),
            0xd3 => Value::Int(i64::from_be_bytes(self.be()?)),
            0xca => Value::Float(f32::from_bits(u32::from_be_bytes(self.be()?)) as f64),
            0xcb => Value::Float(f64::from_bits(u64::from_be_bytes(self.be()?))),
            0xa0..=0xbf => Value::Str(self.string((t & 0x1f) as usize)?),
            0xd9 => {
                let n = self.len(1)?;
                Value::Str(self.string(n)?)
            }
            0xda => {
                let n = self.len(2)?;
                Value::Str(self.string(n)?)
            }
            0xdb => {
                let n = self.len(4)?;
                Value::Str(self.string(n)?)
            }
            0xc4..=0xc6 => {
                let n = self.len(1 << (t - 0xc4))?;
                Value::Bytes(self.take(n)?.to_vec())
            }
            0x90..=0x9f => self.list((t & 0x0f) as usize, depth)?,
            0xdc => {
                let n = self.len(2)?;
                self.list(n, depth)?
            }
            0xdd => {
                let n = self.len(4)?;
                self.list(n, depth)?
            }
            0x80..=0x8f => self.map((t & 0x0f) as usize, depth)?,
            0xde => {
                let n = self.len(2)?;
                self.map(n, depth)?
            }
            0xdf => {
                let n = self.len(4)?;
                self.map(n, depth)?
            }
            other => return Err(CodecError(format!("unsupported type byte 0x{other:02x}"))),
        })
    }

    fn list(&mut self, n: usize, depth: usize) -> Result<Value, CodecError> {
        // Each item takes at least one byte: a length beyond what is left is a lie.
        if n > self.b.len() - self.at {
            return Err(CodecError("truncated".into()));
        }
        let mut items = Vec::with_capacity(n);
        for _ in 0..n {
            items.push(self.value(depth + 1)?);
        }
        Ok(Value::List(items))
    }

    fn map(&mut self, n: usize, depth: usize) -> Result<Value, CodecError> {
        if n > (self.b.len() - self.at) / 2 {
            return Err(CodecError("truncated".into()));
        }
        let mut pairs = Vec::with_capacity(n);
        for _ in 0..n {
            let Value::Str(k) = self.value(depth + 1)? else {
                return Err(CodecError("a map key is not a string".into()));
            };
            pairs.push((k, self.value(depth + 1)?));
        }
        Ok(Value::Map(pairs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(v: Value) {
        let b = encode(&v);
        assert_eq!(decode(&b).unwrap(), v, "{b:02x?}");
    }

    #[test]
    fn every_value_round_trips() {
        for n in [
            0,
            1,
            127,
            128,
            255,
            256,
            65535,
            65536,
            u32::MAX as i64,
            u32::MAX as i64 + 1,
            i64::MAX,
            -1,
            -32,
            -33,
            -128,
            -129,
            -32768,
            -32769,
            i32::MIN as i64,
            i32::MIN as i64 - 1,
            i64::MIN,
        ] {
            round(Value::Int(n));
        }
        round(Value::Float(0.25));
        round(Value::Float(f64::INFINITY));
        round(Value::Null);
        round(Value::Bool(true));
        round(Value::Str("ünïcödé".into()));
        round(Value::Str("x".repeat(40)));
        round(Value::Str("x".repeat(300)));
        round(Value::Str("x".repeat(70_000)));
        round(Value::Bytes(vec![0, 1, 255]));
        round(Value::Bytes(vec![7; 300]));
        round(Value::Bytes(vec![7; 70_000]));
        round(Value::List((0..20).map(Value::Int).collect()));
        round(Value::Map(vec![
            ("b".into(), Value::Null),
            ("a".into(), Value::List(vec![])),
        ]));
    }

    #[test]
    fn the_shortest_form_is_written() {
        assert_eq!(encode(&Value::Int(5)), [0x05]);
        assert_eq!(encode(&Value::Int(-1)), [0xff]);
        assert_eq!(encode(&Value::Int(200)), [0xcc, 200]);
        assert_eq!(encode(&Value::Str("ab".into())), [0xa2, b'a', b'b']);
        assert_eq!(encode(&Value::Float(1.5))[0], 0xcb);
    }

    #[test]
    fn bad_bytes_are_refused() {
        for bad in [
            &[0xa3, b'a'][..],           // truncated string
            &[0xc1],                     // never used
            &[0xd4, 1, 2],               // extension
            &[0x81, 0x01, 0xc0],         // map with an integer key
            &[0xa1, 0xff],               // invalid UTF-8
            &[0xc0, 0xc0],               // trailing bytes
            &[0xdd, 255, 255, 255, 255], // a huge length with nothing behind it
            &[0xcf, 255, 255, 255, 255, 255, 255, 255, 255],
        ] {
            assert!(decode(bad).is_err(), "{bad:02x?}");
        }
        let deep = vec![0x91; MAX_DEPTH + 2];
        assert!(decode(&deep).is_err());
    }
}
