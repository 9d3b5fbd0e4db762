using System.Text;

namespace PaliGemma2.DocPipeline.Documents.Processes;

/// <summary>
/// A tool's stderr, bounded: the head (a runtime names a stack overflow first, then prints thousands of frames)
/// and the tail (the last lines say why a tool gave up). Thread-safe.
/// </summary>
public sealed class CappedText
{
    private readonly StringBuilder _head = new();
    private readonly StringBuilder _tail = new();

    /// <summary>Appends one line.</summary>
    public void AppendLine(string line)
    {
        lock (_tail)
        {
            if (_head.Length < 2048)
            {
                _head.AppendLine(line);
            }

            if (_tail.Length > 8192)
            {
                _tail.Remove(0, _tail.Length - 4096);
            }

            _tail.AppendLine(line);
        }
    }

    /// <summary>Forgets everything (a long-lived process starts its next file).</summary>
    public void Clear()
    {
        lock (_tail)
        {
            _head.Clear();
            _tail.Clear();
        }
    }

    /// <inheritdoc />
    public override string ToString()
    {
        lock (_tail)
        {
            var all = _tail.ToString().Trim();
            var start = _head.ToString().Trim();
            if (all.Length <= 4000 && all.StartsWith(start, StringComparison.Ordinal))
            {
                return all;
            }

            return (start.Length <= 1000 ? start : start[..1000]) + "\n…\n" + all[^Math.Min(all.Length, 3000)..];
        }
    }
}
