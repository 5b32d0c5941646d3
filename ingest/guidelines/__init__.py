"""Clinical practice guidelines: readers of each publisher format, and the recommendation splitter.

Every reader is a pure function from bytes to :class:`ParsedGuideline` values (see ``types``);
storage, search and harvesting of guidelines live elsewhere and only consume these values.
"""
