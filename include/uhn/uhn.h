/* uhn: the public interface of libuhn (include this one header). */
#ifndef UHN_UHN_H
#define UHN_UHN_H
#include "uhn/version.h"
#include "uhn/context.h"
#include "uhn/rng.h"
#include "uhn/similarity.h"
#include "uhn/separation.h"
#include "uhn/bank.h"
#include "uhn/engine.h"
#include "uhn/h5io.h"
#include "uhn/dataset.h"
#include "uhn/corrupt.h"
#include "uhn/metrics.h"
#include "uhn/parse.h"
#include "uhn/deck.h"
#include "uhn/study.h"
#include "uhn/encoder.h"
#include "uhn/text.h"
#include "uhn/separability.h"
#endif
