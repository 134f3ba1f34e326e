"""The engine: virtual time, actors, strategies, replay tokens, the trace."""
from .engine import Actor, ActorState, Engine
from .errors import ActorError, Deadlock, Interrupted, ScenarioError, SimulationError
from .replay import TokenError, decode_token, encode_token
from .strategies import (ChoiceStrategy, PCTStrategy, RandomStrategy, Strategy,
                         StrategyError, make_strategy)
from .trace import Trace

__all__ = ["Actor", "ActorState", "Engine", "ActorError", "Deadlock", "Interrupted", "ScenarioError", "SimulationError",
           "TokenError", "decode_token", "encode_token", "ChoiceStrategy", "PCTStrategy",
           "RandomStrategy", "Strategy", "StrategyError", "make_strategy", "Trace"]
