// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <napi.h>

namespace faultd::js {

/// nftAddChain(spec): undefined — one atomic batch (table, chain, rules).
Napi::Value NftAddChain(const Napi::CallbackInfo& info);
/// nftDeleteChain(table, chain): boolean — false if it was already absent.
Napi::Value NftDeleteChain(const Napi::CallbackInfo& info);
/// nftListChains(table): string[].
Napi::Value NftListChains(const Napi::CallbackInfo& info);

}  // namespace faultd::js
