// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <napi.h>

namespace faultd::js {

/// nftAddChain(spec): Promise<void> — one atomic batch (table, chain, rules).
Napi::Value NftAddChain(const Napi::CallbackInfo& info);
/// nftDeleteChain(table, chain): Promise<boolean> — false if it was already absent.
Napi::Value NftDeleteChain(const Napi::CallbackInfo& info);
/// nftListChains(table): Promise<string[]>.
Napi::Value NftListChains(const Napi::CallbackInfo& info);

}  // namespace faultd::js
