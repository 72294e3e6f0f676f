#!/bin/sh
# Regenerates the pre-encoded GOP assets embedded by src/origin/asset.rs.
# Run from the repository root with Debian's FFmpeg 5.1 (libx264 + native aac):
#   sh assets/gen-gop.sh
# For each unit duration U (1 s, 2 s) it writes:
#   assets/gop-Us.ts        one GOP: U s of 64x36 black H.264 (10 fps, constrained
#                           baseline, IDR first, no B-frames) + silent mono AAC-LC
#                           48 kHz, muxed as MPEG-TS;
#   assets/gop-Us-video.ts  the same video stream alone (timestamps kept);
#   assets/gop-Us-audio.ts  the same audio stream alone (timestamps kept).
# The audio source is cut to ceil(U*48000/1024) - 1 AAC frames of input (46, 93) so that the
# encoder (which adds one priming frame) ends with its last frame starting strictly
# before U: repeated copies re-stamped by U then have strictly increasing DTS.
set -eu
for U in 1 2; do
  case "$U" in
    1) AUDIO_S=0.981333 ;;  # 46 frames * 1024 / 48000
    2) AUDIO_S=1.984 ;;     # 93 frames * 1024 / 48000
  esac
  ffmpeg -hide_banner -loglevel error -y \
    -f lavfi -i "color=c=black:s=64x36:r=10:d=$U" \
    -f lavfi -i "anullsrc=r=48000:cl=mono:d=$AUDIO_S" \
    -map 0:v -map 1:a \
    -c:v libx264 -profile:v baseline -preset veryslow -g 100 -keyint_min 100 \
    -sc_threshold 0 -bf 0 -pix_fmt yuv420p -bsf:v filter_units=remove_types=6 \
    -c:a aac -b:a 24k -ac 1 -ar 48000 \
    -fflags +bitexact -flags:v +bitexact -flags:a +bitexact \
    -f mpegts "assets/gop-${U}s.ts"
  ffmpeg -hide_banner -loglevel error -y -copyts -i "assets/gop-${U}s.ts" \
    -map 0:v -c copy -fflags +bitexact -f mpegts "assets/gop-${U}s-video.ts"
  ffmpeg -hide_banner -loglevel error -y -copyts -i "assets/gop-${U}s.ts" \
    -map 0:a -c copy -fflags +bitexact -f mpegts "assets/gop-${U}s-audio.ts"
done
