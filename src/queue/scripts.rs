//! The Lua scripts of the queue, each prefixed with the shared helpers of
//! `lua/common.lua`. Each file's header names its KEYS, ARGV and return value.

use redis::Script;

macro_rules! script {
    ($file:literal) => {
        Script::new(concat!(
            include_str!("lua/common.lua"),
            include_str!(concat!("lua/", $file))
        ))
    };
}

/// Every transition of the queue, loaded once per [`super::Queue`].
pub(crate) struct Scripts {
    pub push: Script,
    pub reserve: Script,
    pub renew: Script,
    pub ack: Script,
    pub retry: Script,
    pub defer: Script,
    pub fail: Script,
    pub acquire: Script,
    pub revive: Script,
    pub forget: Script,
    pub counts: Script,
    pub loads: Script,
    pub restart: Script,
    pub pause: Script,
    pub take_token: Script,
}

impl Scripts {
    pub(super) fn new() -> Scripts {
        Scripts {
            push: script!("push.lua"),
            reserve: script!("reserve.lua"),
            renew: script!("renew.lua"),
            ack: script!("ack.lua"),
            retry: script!("retry.lua"),
            defer: script!("defer.lua"),
            fail: script!("fail.lua"),
            acquire: script!("acquire.lua"),
            revive: script!("revive.lua"),
            forget: script!("forget.lua"),
            counts: script!("counts.lua"),
            loads: script!("loads.lua"),
            restart: script!("restart.lua"),
            pause: script!("pause.lua"),
            take_token: script!("take_token.lua"),
        }
    }
}
