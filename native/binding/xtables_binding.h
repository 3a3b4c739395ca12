// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <napi.h>

namespace faultd::js {

/// xtablesAddChain(spec): undefined — one IPT_SO_SET_REPLACE adding the chain and its jumps.
Napi::Value XtablesAddChain(const Napi::CallbackInfo& info);
/// xtablesDeleteChain(table, chain): boolean — false if it was already absent.
Napi::Value XtablesDeleteChain(const Napi::CallbackInfo& info);
/// xtablesListChains(table): string[] — the user-defined chains.
Napi::Value XtablesListChains(const Napi::CallbackInfo& info);

}  // namespace faultd::js
